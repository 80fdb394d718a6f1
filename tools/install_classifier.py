"""Put retrained classifier weights into a COPY of a model file (the original is not touched).

    python tools/install_classifier.py checkpoints/celeba64.safetensors \\
        /work/artifacts/classifier_real.safetensors --as-scorer --out celeba64-scored.safetensors

With ``--as-scorer`` the weights become the file's **photo scorer** (`facegan.checkpoint`): they
are added under ``C_photo.*`` (replacing an earlier scorer) and the JSON metadata gains a
``scorer`` object (what, provenance, mean temperature); C itself is not touched, so latent
refinement, pivotal tuning and direction discovery behave exactly as before, and only what the
app and the CLI show as attribute scores changes. Without it, the classifier's ``C.*`` tensors
are replaced (everything that uses C changes) and a ``classifier_provenance`` entry is added.
Every other tensor and the rest of the metadata are copied as they are; new tensors take the
dtype the file stores C in. The result loads like any model file (it is checked on the way out,
`facegan.checkpoint.copy_model_file`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file

from facegan.checkpoint import SCORER, ModelFileError, copy_model_file


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", type=Path)
    ap.add_argument("classifier", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--as-scorer", action="store_true",
                    help="add the weights as the photo scorer (C_photo.*) beside C, instead of "
                         "replacing C")
    a = ap.parse_args()
    new = load_file(str(a.classifier))
    with safe_open(str(a.classifier), "pt") as f:
        prov = dict(f.metadata() or {})
    prefix = SCORER if a.as_scorer else "C"

    def install(tensors: dict[str, torch.Tensor], doc: dict[str, Any]) -> None:
        old = {k[2:]: v for k, v in tensors.items() if k.startswith("C.")}
        if set(old) != set(new):
            raise SystemExit(f"the classifier's tensors do not match the model's C "
                             f"({sorted(set(old) ^ set(new))[:4]})")
        wrong = [k for k in new if tuple(new[k].shape) != tuple(old[k].shape)]
        if wrong:
            raise SystemExit(f"the classifier's {wrong[0]} is {list(new[wrong[0]].shape)}, the "
                             f"model's C has {list(old[wrong[0]].shape)}")
        if a.as_scorer:
            for k in [k for k in tensors if k.startswith(SCORER + ".")]:
                del tensors[k]
        for k, v in new.items():
            tensors[f"{prefix}.{k}"] = v.to(old[k].dtype).contiguous()
        if a.as_scorer:
            doc["scorer"] = {
                "what": prov.get("what", "attribute classifier fine-tuned for real photos"),
                "source": a.classifier.name,
                "provenance": prov,
                "temperature_mean": float(new["temperature"].float().mean()),
            }
        else:
            doc["classifier_provenance"] = prov

    try:
        mf = copy_model_file(a.model, a.out, install)
    except ModelFileError as e:
        raise SystemExit(str(e)) from None
    role = f"photo scorer ({mf.scoring_part} scores faces)" if a.as_scorer else "classifier C"
    print(f"{a.model.name} with {a.classifier.name} as its {role} -> {a.out} "
          f"({a.out.stat().st_size / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
