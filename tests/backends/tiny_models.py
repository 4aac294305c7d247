"""Tiny random transformers checkpoints, saved with `save_pretrained` like real ones.

Each builder writes a folder a user could point `ModelSpec.model` at: config, weights,
image processor or processor with an offline-built tokenizer. Models are a few thousand
parameters so loading and running them on a CPU takes milliseconds; their outputs are
noise, which is exactly what the backend code must survive. Reused by the Dagster graph
tests through `build_tiny_models`.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import (
    DetrConfig,
    DetrForObjectDetection,
    Pix2StructConfig,
    Pix2StructForConditionalGeneration,
    Pix2StructProcessor,
    ResNetConfig,
    TableTransformerConfig,
    TableTransformerForObjectDetection,
    TrOCRConfig,
    TrOCRProcessor,
    VisionEncoderDecoderConfig,
    VisionEncoderDecoderModel,
    ViTConfig,
    ViTForImageClassification,
)

from pdf_assets.backends.hf.reference import DOCLAYNET, TATR_LABELS, make_image_processor, word_tokenizer

WORDS = [*"abcdefghijklmnopqrstuvwxyz0123456789", "|", "<0x0A>", "TITLE", "Year", "Sales"]
CLASSIFIER_LABELS = ("chart", "photo")


def _backbone() -> ResNetConfig:
    return ResNetConfig(
        embedding_size=8, hidden_sizes=[8, 8, 16, 16], depths=[1, 1, 1, 1], layer_type="basic", out_features=["stage4"]
    )


def _detr_kwargs(labels: tuple[str, ...]) -> dict[str, object]:
    return {
        "backbone_config": _backbone(),
        "use_timm_backbone": False,
        "use_pretrained_backbone": False,
        "num_queries": 12,
        "d_model": 16,
        "encoder_layers": 1,
        "decoder_layers": 1,
        "encoder_ffn_dim": 32,
        "decoder_ffn_dim": 32,
        "encoder_attention_heads": 2,
        "decoder_attention_heads": 2,
        "id2label": dict(enumerate(labels)),
        "label2id": {n: i for i, n in enumerate(labels)},
    }


def build_layout(folder: Path) -> Path:
    DetrForObjectDetection(DetrConfig(**_detr_kwargs(DOCLAYNET))).save_pretrained(folder)
    make_image_processor("DetrImageProcessor", size={"shortest_edge": 64, "longest_edge": 96}).save_pretrained(folder)
    return folder


def build_tables(folder: Path) -> Path:
    TableTransformerForObjectDetection(TableTransformerConfig(**_detr_kwargs(TATR_LABELS))).save_pretrained(folder)
    make_image_processor("DetrImageProcessor", size={"shortest_edge": 64, "longest_edge": 96}).save_pretrained(folder)
    return folder


def build_ocr(folder: Path) -> Path:
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    tokenizer = word_tokenizer(WORDS, specials, bos_token="<s>", pad_token="<pad>", eos_token="</s>", unk_token="<unk>")
    encoder = ViTConfig(
        hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, image_size=32, patch_size=8
    )
    decoder = TrOCRConfig(
        vocab_size=len(specials) + len(WORDS),
        d_model=16,
        decoder_layers=1,
        decoder_attention_heads=2,
        decoder_ffn_dim=32,
        max_position_embeddings=64,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        decoder_start_token_id=2,
    )
    config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
    config.decoder_start_token_id, config.pad_token_id, config.eos_token_id = 2, 1, 2
    VisionEncoderDecoderModel(config).save_pretrained(folder)
    images = make_image_processor("ViTImageProcessor", size={"height": 32, "width": 32})
    TrOCRProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(folder)
    return folder


def build_figures(folder: Path) -> Path:
    specials = ["<pad>", "</s>", "<unk>"]
    tokenizer = word_tokenizer(WORDS, specials, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")
    text = {
        "vocab_size": len(specials) + len(WORDS),
        "hidden_size": 16,
        "d_kv": 8,
        "d_ff": 32,
        "num_layers": 1,
        "num_heads": 2,
        "use_cache": True,
    }
    vision = {
        "hidden_size": 16,
        "patch_embed_hidden_size": 16 * 16 * 3,
        "d_ff": 32,
        "d_kv": 8,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "seq_len": 64,
    }
    Pix2StructForConditionalGeneration(
        Pix2StructConfig(text_config=text, vision_config=vision, is_vqa=True)
    ).save_pretrained(folder)
    images = make_image_processor("Pix2StructImageProcessor", is_vqa=True, max_patches=32)
    Pix2StructProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(folder)
    return folder


def build_figure_classifier(folder: Path) -> Path:
    config = ViTConfig(
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        image_size=32,
        patch_size=8,
        id2label=dict(enumerate(CLASSIFIER_LABELS)),
        label2id={n: i for i, n in enumerate(CLASSIFIER_LABELS)},
    )
    ViTForImageClassification(config).save_pretrained(folder)
    make_image_processor("ViTImageProcessor", size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


def build_tiny_models(root: Path) -> dict[str, Path]:
    """Every tiny checkpoint under `root`, keyed by stage (plus `figure_classifier`)."""
    torch.manual_seed(0)
    builders = {
        "layout": build_layout,
        "ocr": build_ocr,
        "tables": build_tables,
        "figures": build_figures,
        "figure_classifier": build_figure_classifier,
    }
    return {name: build(root / name) for name, build in builders.items()}
