"""``python -m pfrlib.evaluate``: a checkpoint's per-class IoU (Eq. 7) beside the paper's Table 1::

    python -m pfrlib.evaluate --checkpoint runs/x/checkpoint_last.pt --data synth:target
    python -m pfrlib.evaluate --checkpoint ckpt.pt --data cityscapes:/data/cs:val \\
        --eval-size 512 1024 --out runs/x/eval --save-results runs/x/eval/results

prints the paper's rows (``pfrlib/reference/table1.csv``) beside ours and, with ``--out``, writes
``eval.json`` and ``table.md``; ``--save-results DIR`` writes the Cityscapes benchmark's label-id
PNGs. The protocol is :func:`pfrlib.evaluation.evaluate.evaluate_checkpoint`'s.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

from pfrlib.evaluation.evaluate import evaluate_checkpoint
from pfrlib.evaluation.tables import results_table
from pfrlib.io import atomic_write


def _existing_file(value: str) -> str:
    """argparse type for ``--reference``: the file must exist."""
    if not Path(value).is_file():
        raise argparse.ArgumentTypeError(f"Table 1 reference file not found: {value}")
    return value


def main(argv: Optional[list[str]] = None) -> int:
    """Parse ``argv``, evaluate, print the table; the exit status (2: bad input)."""
    p = argparse.ArgumentParser(prog="python -m pfrlib.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True, help="a checkpoint written by pfrlib.train")
    p.add_argument("--data", required=True, help="dataset spec, e.g. synth:target, folder:/d, cityscapes:/cs:val")
    p.add_argument("--out", default=None, help="directory for eval.json, table.md (and predictions)")
    p.add_argument("--eval-size", type=int, nargs=2, metavar=("H", "W"), default=None,
                   help="input resize (paper: 512 1024); default: the run's eval_size")
    p.add_argument("--align-corners", action=argparse.BooleanOptionalAction, default=True,
                   help="upsampling of logits to the label size (AdaptSegNet: True)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--num-workers", type=int, default=0)
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N images")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast (GPU)")
    p.add_argument("--save-predictions", type=int, default=0, metavar="N",
                   help="write N colourised prediction|label PNGs under OUT/predictions")
    p.add_argument("--save-results", default=None, metavar="DIR",
                   help="write one label-id PNG per Cityscapes image to DIR (new or empty), named and encoded "
                        "as cityscapesscripts' evalPixelLevelSemanticLabeling and the benchmark server expect")
    p.add_argument("--reference", default=None, type=_existing_file,
                   help="Table 1 CSV (default: the paper's rows shipped as pfrlib/reference/table1.csv)")
    p.add_argument("--no-reference", action="store_true", help="print our row only")
    args = p.parse_args(argv)
    try:
        _, report = evaluate_checkpoint(
            args.checkpoint, args.data, out=args.out, eval_size=args.eval_size,
            align_corners=args.align_corners, device=args.device, batch_size=args.batch_size,
            num_workers=args.num_workers, limit=args.limit, bf16=args.bf16,
            save_predictions=args.save_predictions, progress=True, save_results=args.save_results,
        )
    except (ValueError, FileNotFoundError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    table = results_table(report, args.reference, include_reference=not args.no_reference)
    print(table)
    print(f"\nmIoU {100 * report['miou']:.2f} over {len(report['class_ids'])} classes, "
          f"{report['num_images']} images, {report['megapixels_per_s']:.2f} Mpx/s")
    if args.out:
        atomic_write(Path(args.out) / "table.md", lambda f: f.write((table + "\n").encode()))
        print(f"wrote {Path(args.out) / 'eval.json'} and {Path(args.out) / 'table.md'}")
    if args.save_results:
        print(f"wrote {report['results']['files']} label-id PNG(s) in the Cityscapes benchmark format to "
              f"{args.save_results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
