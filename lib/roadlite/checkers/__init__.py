"""The classroom edition's checkers, one module per chapter idea (see the teacher's guide).

Each ``check_*`` runs a reader's function on small known inputs and edge cases, compares the
result with an independent reference and raises one ``AssertionError`` that says what differs
(shape, dtype, the largest deviation and where) and, when it recognises it, the likely mistake.

=========================  =========================================  =====================
module                     checkers                                   chapter
=========================  =========================================  =====================
``checkers.eca``           ``check_eca_kernel_size``, ``check_eca_gate``  03_eca
``checkers.refinement``    ``check_inverted_residual_cost``           04_refinement
``checkers.distillation``  ``check_sparse_kd_loss``                   05_distillation
``checkers.pruning``       ``check_l1_channel_importance``,           06_pruning
                           ``check_select_channels``,
                           ``check_prune_step``
``checkers.quantization``  ``check_scale_zero_point``,                07_quantization
                           ``check_fake_quantize``,
                           ``check_quantized_bias``
``checkers.mcnemar``       ``check_mcnemar``                          09_confusion
``checkers.dmia``          ``check_dmia_boundary``                    11_crack_segmentation
=========================  =========================================  =====================
"""
