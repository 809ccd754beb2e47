"""Pixel-wise crack segmentation: LR-CrackNet re-implemented from its text (Chapter 11_crack_segmentation).

* :mod:`.networks` -- the U-shaped teacher / student (DLC, RDLDC, Fast-Transformer) and a plain U-Net;
* :mod:`.dmia` -- the boundary map of the dynamic morphological iteration algorithm;
* :mod:`.losses` -- channel-wise distillation, BCE + Dice, the adversarial terms;
* :mod:`.discriminator` -- the attention-enhanced discriminator (directional-spatial attention);
* :mod:`.metrics` -- pooled precision / recall / F1 / IoU / AIoU, ODS / OIS;
* :mod:`.data` -- the chapter's image / mask pairs in memory, its manifest, the DeepCrack split;
* :mod:`.train` -- the three training phases;
* :mod:`.phases` -- the chapter's runs of them with its parameters (teacher, student, plain).
"""
