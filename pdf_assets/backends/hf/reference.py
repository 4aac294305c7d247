"""The hf models at their real sizes with random weights, built without any download.

Benchmarks need the compute and memory profile of the production checkpoints (batch
sizes, OOM limits, items/s) on machines that cannot fetch weights. Outputs are noise, but
the architecture, input resolution, patch counts and generation lengths match:

| stage   | architecture                                                  | input                  |
|---------|---------------------------------------------------------------|------------------------|
| layout  | DETR, ResNet-50 backbone, 100 queries, 11 DocLayNet classes   | shortest edge 800      |
| ocr     | TrOCR-base: ViT-base encoder 384x384 + 12-layer d1024 decoder | 384x384 lines          |
| tables  | Table Transformer: DETR, ResNet-18 backbone, 125 queries      | shortest edge 800      |
| figures | Pix2Struct-base (DePlot's architecture)                       | 1024 patches of 16x16  |

Backbones use transformers' own ResNet (no timm, no pretrained backbone). Tokenizers are
word-level vocabularies of the real size built in memory. Generation lengths are fixed
(min = max) so timings do not depend on what random weights happen to emit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import cast

import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import (
    BaseImageProcessor,
    DetrConfig,
    DetrForObjectDetection,
    Pix2StructConfig,
    Pix2StructForConditionalGeneration,
    Pix2StructProcessor,
    PreTrainedModel,
    PreTrainedTokenizerFast,
    ResNetConfig,
    TableTransformerConfig,
    TableTransformerForObjectDetection,
    TrOCRConfig,
    TrOCRProcessor,
    VisionEncoderDecoderConfig,
    VisionEncoderDecoderModel,
    ViTConfig,
)

from pdf_assets.backends.hf.deplot import ChartSettings, DeplotModel, header_font_bytes
from pdf_assets.backends.hf.detection import DetectionProcessor, Detector
from pdf_assets.backends.hf.layout import HfLayoutModel
from pdf_assets.backends.hf.loading import image_processor_backend
from pdf_assets.backends.hf.tatr import TatrModel, WordSource
from pdf_assets.backends.hf.trocr import Generation, TrOcrModel
from pdf_assets.backends.torch_base import torch_dtype
from pdf_assets.core.errors import ConfigError
from pdf_assets.core.model import BatchModel

AnyModel = BatchModel[object, object, object, object]

DOCLAYNET = (
    "Caption",
    "Footnote",
    "Formula",
    "List-item",
    "Page-footer",
    "Page-header",
    "Picture",
    "Section-header",
    "Table",
    "Text",
    "Title",
)
TATR_LABELS = (
    "table",
    "table column",
    "table row",
    "table column header",
    "table projected row header",
    "table spanning cell",
)
TROCR_TOKENS = 24
DEPLOT_TOKENS = 64


def word_tokenizer(words: Sequence[str], specials: Sequence[str], **roles: str) -> PreTrainedTokenizerFast:
    """A whitespace word-level tokenizer: specials first (their ids are the model's), then words.

    `roles` names the special tokens, e.g. `pad_token="<pad>"`.
    """
    vocab = {token: i for i, token in enumerate([*specials, *words])}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token=roles.get("unk_token")))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=backend, **roles)


def synthetic_tokenizer(size: int, specials: Sequence[str], **roles: str) -> PreTrainedTokenizerFast:
    return word_tokenizer([f"w{i}" for i in range(size - len(specials))], specials, **roles)


def make_image_processor(name: str, **kwargs: object) -> BaseImageProcessor:
    """An image processor built in code: the fast (torchvision) class where available, else PIL."""
    import transformers

    suffix = "" if image_processor_backend() == "torchvision" else "Pil"
    processor: BaseImageProcessor = getattr(transformers, f"{name}{suffix}")(**kwargs)
    return processor


def detr_processor(shortest_edge: int, longest_edge: int) -> DetectionProcessor:
    """DETR's resize-and-pad processor (Table Transformer uses the same one)."""
    import transformers

    suffix = "" if image_processor_backend() == "torchvision" else "Pil"
    processor: DetectionProcessor = getattr(transformers, f"DetrImageProcessor{suffix}")(
        size={"shortest_edge": shortest_edge, "longest_edge": longest_edge}
    )
    return processor


def resnet(depths: list[int], hidden_sizes: list[int], layer_type: str) -> ResNetConfig:
    """transformers' ResNet as DETR backbone: giving `backbone_config` skips the timm path."""
    return ResNetConfig(embedding_size=64, depths=depths, hidden_sizes=hidden_sizes, layer_type=layer_type)


def layout_config() -> DetrConfig:
    return DetrConfig(
        backbone_config=resnet([3, 4, 6, 3], [256, 512, 1024, 2048], "bottleneck"),
        num_queries=100,
        id2label=dict(enumerate(DOCLAYNET)),
        label2id={n: i for i, n in enumerate(DOCLAYNET)},
    )


def tatr_config() -> TableTransformerConfig:
    return TableTransformerConfig(
        backbone_config=resnet([2, 2, 2, 2], [64, 128, 256, 512], "basic"),
        num_queries=125,
        id2label=dict(enumerate(TATR_LABELS)),
        label2id={n: i for i, n in enumerate(TATR_LABELS)},
    )


def trocr_config() -> VisionEncoderDecoderConfig:
    encoder = ViTConfig(
        image_size=384,
        patch_size=16,
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        qkv_bias=False,
    )
    # Cross-attention reads the 768-wide encoder directly (no projection), as in TrOCR-base.
    decoder = TrOCRConfig(
        vocab_size=50265,
        d_model=1024,
        decoder_layers=12,
        decoder_attention_heads=16,
        decoder_ffn_dim=4096,
        cross_attention_hidden_size=768,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        decoder_start_token_id=2,
    )
    # The classmethod marks the decoder as a cross-attending decoder; it is typed as the base class.
    config = cast(VisionEncoderDecoderConfig, VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder))
    config.decoder_start_token_id, config.pad_token_id, config.eos_token_id = 2, 1, 2
    return config


def deplot_config() -> Pix2StructConfig:
    # Pix2Struct-base's text and vision defaults are DePlot's; the cache makes decoding linear.
    return Pix2StructConfig(text_config={"use_cache": True}, vision_config={}, is_vqa=True)


def _model(stage: str) -> PreTrainedModel:
    builders: dict[str, Callable[[], PreTrainedModel]] = {
        "layout": lambda: DetrForObjectDetection(layout_config()),
        "tables": lambda: TableTransformerForObjectDetection(tatr_config()),
        "ocr": lambda: VisionEncoderDecoderModel(trocr_config()),
        "figures": lambda: Pix2StructForConditionalGeneration(deplot_config()),
    }
    if stage not in builders:
        raise ConfigError(f"no reference model for stage {stage!r}; expected one of {sorted(builders)}")
    return builders[stage]()


def _layout(model: PreTrainedModel, device: str) -> HfLayoutModel:
    return HfLayoutModel(Detector(model, detr_processor(800, 1333), device), threshold=0.5, nms_iou=0.5)


def _tables(model: PreTrainedModel, device: str) -> TatrModel:
    return TatrModel(Detector(model, detr_processor(800, 1000), device), WordSource("none"))


def _ocr(model: PreTrainedModel, device: str) -> TrOcrModel:
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    roles = {"bos_token": "<s>", "pad_token": "<pad>", "eos_token": "</s>", "unk_token": "<unk>"}
    tokenizer = synthetic_tokenizer(50265, specials, **roles)
    vit = make_image_processor(
        "ViTImageProcessor", size={"height": 384, "width": 384}, image_mean=[0.5] * 3, image_std=[0.5] * 3
    )
    processor = TrOCRProcessor(image_processor=vit, tokenizer=tokenizer)
    return TrOcrModel(model, processor, device, Generation(TROCR_TOKENS, TROCR_TOKENS))


def _figures(model: PreTrainedModel, device: str) -> DeplotModel:
    roles = {"pad_token": "<pad>", "eos_token": "</s>", "unk_token": "<unk>"}
    tokenizer = synthetic_tokenizer(50244, ["<pad>", "</s>", "<unk>"], **roles)
    images = make_image_processor("Pix2StructImageProcessor", is_vqa=True, max_patches=1024)
    processor = Pix2StructProcessor(image_processor=images, tokenizer=tokenizer)
    settings = ChartSettings(max_new_tokens=DEPLOT_TOKENS, min_new_tokens=DEPLOT_TOKENS, max_patches=1024)
    return DeplotModel(model, processor, device, settings, header_font_bytes(None))


def build_reference_model(stage: str, device: str, dtype: str = "fp16") -> AnyModel:
    """A real-size, randomly initialised model of `stage` wrapped in its production BatchModel."""
    torch.manual_seed(0)
    # PreTrainedModel.to is wrapped by functools.wraps, whose stub loses the bound self.
    model = _model(stage).to(dtype=torch_dtype(dtype, device))  # type: ignore[call-arg]
    wrappers: dict[str, Callable[[PreTrainedModel, str], AnyModel]] = {
        "layout": _layout,  # type: ignore[dict-item]
        "tables": _tables,  # type: ignore[dict-item]
        "ocr": _ocr,  # type: ignore[dict-item]
        "figures": _figures,  # type: ignore[dict-item]
    }
    return wrappers[stage](model, device)


def reference_summary() -> dict[str, dict[str, int | str]]:
    """Parameter counts per stage, computed on the meta device (no memory, no weights)."""
    summary: dict[str, dict[str, int | str]] = {}
    for stage in ("layout", "ocr", "tables", "figures"):
        with torch.device("meta"):
            model = _model(stage)
        summary[stage] = {
            "architecture": type(model).__name__,
            "parameters": sum(p.numel() for p in model.parameters()),
        }
    return summary
