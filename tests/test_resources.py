"""resources/: found from the source tree, a launcher entry that validates, a MIME type that
matches face-train's files, and a desktop install that writes and removes exactly its files."""

from __future__ import annotations

import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from testdata import ROOT

from explorer import assets, desktop

MIME_NS = "{http://www.freedesktop.org/standards/shared-mime-info}"


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def test_the_source_tree_provides_icon_help_pages_and_model():
    assert assets.resources_dir() == ROOT / "resources"
    assert assets.icon_svg().read_text().lstrip().startswith("<?xml")
    for s in assets.ICON_SIZES:
        assert assets.icon_png(s).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for page in ("guide", "shortcuts"):
        assert "<html>" in assets.help_page(page).read_text()
    assert assets.default_model_file() == ROOT / "checkpoints" / assets.DEFAULT_MODEL_NAME
    with pytest.raises(assets.MissingResource, match="nope.txt"):
        assets.resource_path("resources/nope.txt")


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None,
                    reason="desktop-file-utils not installed")
def test_launcher_entry_passes_desktop_file_validate(tmp_path):
    shipped = assets.resource_path("resources/face-explorer.desktop")
    installed = tmp_path / "face-explorer.desktop"
    exec_cmd = desktop._quote("/opt/my apps/100%/face-explorer")
    assert exec_cmd == '"/opt/my apps/100%%/face-explorer"'
    assert desktop._quote("/usr/bin/face-explorer") == "/usr/bin/face-explorer"
    installed.write_text(desktop.desktop_entry_text(exec_cmd))
    for f in (shipped, installed):
        r = subprocess.run(["desktop-file-validate", str(f)], capture_output=True, text=True)
        assert r.returncode == 0 and "error" not in r.stdout, r.stdout + r.stderr


def test_mime_magic_matches_the_model_files_face_train_writes(tiny_model):
    root = ET.parse(assets.resource_path("resources/face-explorer-mime.xml")).getroot()
    types = {t.get("type"): t for t in root.iter(f"{MIME_NS}mime-type")}
    model = types[assets.MODEL_MIME]
    match = next(model.iter(f"{MIME_NS}match"))
    offset, value = int(match.get("offset")), match.get("value").encode()
    for f in (tiny_model, *sorted((ROOT / "checkpoints").glob("*.safetensors"))):
        if f.exists():
            assert f.read_bytes()[offset:offset + len(value)] == value, f
    globs = [g.get("pattern") for t in types.values() for g in t.iter(f"{MIME_NS}glob")]
    assert globs == ["*.safetensors"]
    entry = assets.resource_path("resources/face-explorer.desktop").read_text()
    assert assets.MODEL_MIME in entry and "image/jpeg" in entry and "%F" in entry


@pytest.mark.skipif(shutil.which("update-mime-database") is None,
                    reason="shared-mime-info not installed")
def test_update_mime_database_accepts_the_description(tmp_path):
    (tmp_path / "mime" / "packages").mkdir(parents=True)
    shutil.copy(assets.resource_path("resources/face-explorer-mime.xml"),
                tmp_path / "mime" / "packages" / "face-explorer.xml")
    r = subprocess.run(["update-mime-database", str(tmp_path / "mime")], capture_output=True,
                       text=True)
    assert "Failed" not in r.stderr and r.returncode == 0, r.stderr
    assert "application/x-safetensors:*.safetensors" in (tmp_path / "mime" / "globs2").read_text()
    assert assets.MODEL_MIME.encode() in (tmp_path / "mime" / "magic").read_bytes()


def test_install_and_uninstall_write_and_remove_exactly_the_listed_files(tmp_path, monkeypatch):
    data = tmp_path / "data"
    (data / "applications").mkdir(parents=True)
    mine = data / "applications" / "someone-else.desktop"
    mine.write_text("[Desktop Entry]\n")
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    planned = set(desktop.planned_files())
    assert all(data in p.parents for p in planned) and len(planned) == 3 + len(assets.ICON_SIZES)

    written = desktop.install(refresh=False)
    assert set(written) == planned
    assert files_under(data) == planned | {mine}
    for dest, src in desktop.planned_files().items():
        if dest.suffix != ".desktop":
            assert dest.read_bytes() == src.read_bytes()
    assert set(desktop.uninstall(refresh=False)) == planned
    assert files_under(data) == {mine}
    assert sorted(p.relative_to(data).as_posix() for p in data.rglob("*")) == [
        "applications", "applications/someone-else.desktop"]  # emptied folders pruned


def test_the_command_line_install_stays_under_xdg_data_home(tmp_path, monkeypatch, capsys):
    from explorer.app import main

    home, data = tmp_path / "home", tmp_path / "data"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    assert main(["--install-desktop"]) == 0
    planned = set(desktop.planned_files())
    assert planned <= files_under(data) and not files_under(home)
    # Anything else is the desktop's own index, rewritten by its tools when they exist.
    extra = files_under(data) - planned
    assert all(p.parent == data / "applications" or data / "mime" in p.parents
               for p in extra), extra
    entry = (data / "applications" / "face-explorer.desktop").read_text()
    exec_line = next(ln for ln in entry.splitlines() if ln.startswith("Exec="))
    assert exec_line.endswith(" %F")
    assert "/face-explorer" in exec_line or "-m explorer.app" in exec_line
    assert f"{len(planned)} files" in capsys.readouterr().out
    assert main(["--uninstall-desktop"]) == 0
    assert not (planned & files_under(data)) and not files_under(home)
    # The indexes the desktop's tools rewrote (if any) no longer mention us.
    assert not [p for p in files_under(data) if b"face-explorer" in p.read_bytes()]


def test_relative_xdg_data_home_is_ignored_as_the_spec_says(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", "relative/dir")
    assert desktop.data_home() == tmp_path / ".local" / "share"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert desktop.data_home() == Path(os.environ["HOME"]) / ".local" / "share"
