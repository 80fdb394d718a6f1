"""Put retrained classifier weights into a COPY of a model file (the original is not touched).

    python tools/install_classifier.py checkpoints/celeba64.safetensors \\
        /work/artifacts/classifier_real.safetensors --out celeba64-realC.safetensors

Every tensor and the JSON metadata are copied as they are, except the classifier's `C.*`
tensors, which are replaced by the retrained ones (in the dtype the file stores), and a
`classifier_provenance` entry is added to the file's JSON metadata. The result loads like any
model file.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from safetensors import safe_open
from safetensors.torch import load_file, save_file


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", type=Path)
    ap.add_argument("classifier", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    if a.out.resolve() == a.model.resolve():
        raise SystemExit("write to a copy: --out must not be the model file itself")
    new = load_file(str(a.classifier))
    with safe_open(str(a.model), "pt") as f:
        meta = dict(f.metadata() or {})
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    old = {k[2:] for k in tensors if k.startswith("C.")}
    if old != set(new):
        raise SystemExit(f"the classifier's tensors do not match the model's C "
                         f"({sorted(old ^ set(new))[:4]})")
    for k, v in new.items():
        tensors[f"C.{k}"] = v.to(tensors[f"C.{k}"].dtype).contiguous()
    with safe_open(str(a.classifier), "pt") as f:
        prov = dict(f.metadata() or {})
    doc = json.loads(meta["face_explorer"])  # the model file's one JSON document
    doc["classifier_provenance"] = prov
    meta["face_explorer"] = json.dumps(doc)
    save_file(tensors, str(a.out), metadata=meta)
    print(f"{a.model.name} with the classifier of {a.classifier.name} -> {a.out}")


if __name__ == "__main__":
    main()
