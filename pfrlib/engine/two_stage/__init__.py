"""The input-space methods' two stages (CyCADA, DLOW, TGCF-DA): train a translator and translate
the source set (``stage1``), then train the segmentation network on it (``run``), with the
mean teacher's consistency term (``mean_teacher``) or DLOW's domainness weights (``domainness``).
The translator's networks and losses are :mod:`pfrlib.methods.translation`.
"""
