"""A wheel built from this checkout and installed in a fresh virtual environment carries the
whole `kiunga` import root: code, Alembic scripts and the web part's templates and files.

No network: the wheel is built without build isolation, installed with --no-deps, and the
fresh environment borrows this environment's dependencies through a .pth line added after
the install (so pip never sees, let alone touches, the editable install).
"""

from __future__ import annotations

import json
import shutil
import site
import subprocess
import sys
import textwrap
import venv
import zipfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ROOTS = ("platform", "tenants", "channels", "integrations", "migrations")
NOT_SHIPPED_SUFFIXES = {".md", ".rst", ".pyc"}
COPY_IGNORE = shutil.ignore_patterns(
    ".git", ".venv", ".kiunga*", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "tests"
)

INSPECT_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import kiunga.platform.settings, kiunga.migrations
    from alembic.script import ScriptDirectory
    from kiunga.migrations.support import MIGRATIONS_DIR, alembic_config

    def revisions(track):
        scripts = ScriptDirectory.from_config(alembic_config(track))
        return sorted(script.revision for script in scripts.walk_revisions())

    print(json.dumps({
        "settings": kiunga.platform.settings.__file__,
        "migrations": str(MIGRATIONS_DIR),
        "revisions": {track: revisions(track) for track in ("platform", "tenant")},
    }))
    """
)


def checkout_revisions(track: str) -> list[str]:
    from alembic.script import ScriptDirectory
    from kiunga.migrations.support import alembic_config

    scripts = ScriptDirectory.from_config(alembic_config(track))
    return sorted(script.revision for script in scripts.walk_revisions())


def project_files() -> list[str]:
    """Every file of the import root that belongs to the project (tracked, or new and not
    ignored), relative to the repository root."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", *ROOTS],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [
        name
        for name in listed
        if Path(name).suffix not in NOT_SHIPPED_SUFFIXES and (REPO_ROOT / name).is_file()
    ]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    shutil.copytree(REPO_ROOT, source, ignore=COPY_IGNORE, symlinks=True)
    dist = work / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist)],
        cwd=source,
        capture_output=True,
        text=True,
        check=True,
    )
    (built,) = dist.glob("kiunga-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel installed; returns its python."""
    environment = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=False).create(environment)
    python = environment / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"]
        + ["--no-deps", "--no-index", str(wheel)],
        capture_output=True,
        text=True,
        check=True,
    )
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # A plain path line: .pth files in the borrowed directory (the editable install's
    # finder among them) are not run, so `kiunga` can only come from the wheel.
    (Path(purelib) / "borrowed_dependencies.pth").write_text("\n".join(site.getsitepackages()))
    return python


def test_the_wheel_holds_every_project_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [name for name in project_files() if f"kiunga/{name}" not in names]
    assert not missing, f"not in the wheel (see DATA_SUFFIXES in setup.py): {missing}"
    for track in ("platform", "tenant"):
        assert f"kiunga/migrations/{track}/env.py" in names
        assert f"kiunga/migrations/{track}/script.py.mako" in names


def test_the_installed_wheel_imports_from_its_environment(installed, tmp_path):
    result = subprocess.run(
        [str(installed), "-c", INSPECT_SCRIPT], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    environment = installed.parent.parent
    assert Path(found["settings"]).is_relative_to(environment)
    migrations = Path(found["migrations"])
    assert migrations.is_relative_to(environment)
    for track in ("platform", "tenant"):
        assert (migrations / track / "env.py").is_file()
        assert found["revisions"][track] == checkout_revisions(track) != []

    web = REPO_ROOT / "platform" / "web"
    for folder in ("templates", "static"):
        for path in (web / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                shipped = Path(found["settings"]).parent / path.relative_to(REPO_ROOT / "platform")
                assert shipped.is_file(), shipped


def test_the_installed_wheel_has_the_kiunga_command(installed):
    result = subprocess.run(
        [str(installed.with_name("kiunga")), "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    for command in ("up", "migrate"):
        assert command in result.stdout
