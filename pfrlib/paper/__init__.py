"""The paper's method, as it writes it: Eq. (1)-(7) and its optimisation.

============  ==================================================================
``losses``    Eq. (1) segmentation, (2) style (Gram matrices), (3) content,
              (4) PFR, (5) adversarial, (6) the total loss
``step``      one adaptation iteration: Eq. (1)-(6) computed and minimised
``metrics``   Eq. (7): the confusion matrix, IoU per class, mIoU
``optim``     the optimisers and the poly learning-rate schedule: AdaptSegNet's
              setting, which the paper adopts (Sec. 3.1)
============  ==================================================================
"""
