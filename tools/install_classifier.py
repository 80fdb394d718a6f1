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
dtype the file stores C in. The result loads like any model file (it is checked on the way out).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from safetensors import safe_open
from safetensors.torch import load_file, save_file

from facegan.checkpoint import SCORER, load_model


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", type=Path)
    ap.add_argument("classifier", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--as-scorer", action="store_true",
                    help="add the weights as the photo scorer (C_photo.*) beside C, instead of "
                         "replacing C")
    a = ap.parse_args()
    if a.out.resolve() == a.model.resolve():
        raise SystemExit("write to a copy: --out must not be the model file itself")
    new = load_file(str(a.classifier))
    with safe_open(str(a.model), "pt") as f:
        meta = dict(f.metadata() or {})
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    old = {k[2:]: v for k, v in tensors.items() if k.startswith("C.")}
    if set(old) != set(new):
        raise SystemExit(f"the classifier's tensors do not match the model's C "
                         f"({sorted(set(old) ^ set(new))[:4]})")
    wrong = [k for k in new if tuple(new[k].shape) != tuple(old[k].shape)]
    if wrong:
        raise SystemExit(f"the classifier's {wrong[0]} is {list(new[wrong[0]].shape)}, the "
                         f"model's C has {list(old[wrong[0]].shape)}")
    with safe_open(str(a.classifier), "pt") as f:
        prov = dict(f.metadata() or {})
    doc = json.loads(meta["face_explorer"])  # the model file's one JSON document
    prefix = SCORER if a.as_scorer else "C"
    if a.as_scorer:
        tensors = {k: v for k, v in tensors.items() if not k.startswith(SCORER + ".")}
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
    meta["face_explorer"] = json.dumps(doc)
    save_file(tensors, str(a.out), metadata=meta)
    mf = load_model(a.out)  # refuses a file the app could not open
    role = f"photo scorer ({mf.scoring_part} scores faces)" if a.as_scorer else "classifier C"
    print(f"{a.model.name} with {a.classifier.name} as its {role} -> {a.out} "
          f"({a.out.stat().st_size / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
