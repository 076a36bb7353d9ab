"""AsmV2L ("Adaptive Shape Model with Vision-to-Language"): the seed paper's text-guided
reconstruction network on the FaceLens morphable model, in plain torch.

Modules: :mod:`.resnet` (ResNet-18), :mod:`.network` (Table 1), :mod:`.regions` (region binding),
:mod:`.text` (rule-generated region phrases, all-MiniLM-L6-v2), :mod:`.render` (differentiable
rasteriser), :mod:`.losses`, :mod:`.data` (dataset layout, preparation), :mod:`.train`,
:mod:`.evaluate`, :mod:`.checkpoint`, :mod:`.inference` (the pipeline's batched reconstruction).
Recipe and measurements: ``docs/asmv2l.md``.
"""
from facelens.core.face.asmv2l.network import AsmConfig, AsmV2L

__all__ = ["AsmConfig", "AsmV2L"]
