"""Training, evaluation and export of the AsmV2L network (:mod:`facelens.core.face.asmv2l` runs it).

:mod:`.data` (dataset layout, preparation, targets), :mod:`.losses`, :mod:`.train`, :mod:`.evaluate`,
:mod:`.export`. Recipe and measurements: ``docs/asmv2l.md``.
"""
