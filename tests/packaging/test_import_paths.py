"""The folder platform/ never shadows the standard library's `platform`, and every way of
running Kiunga (editable install, pytest, Alembic) imports the same files of this checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import kiunga.platform.settings

REPO_ROOT = Path(__file__).resolve().parents[2]
STDLIB = Path(sysconfig.get_paths()["stdlib"]).resolve()

# Printed by a Python run elsewhere: where `kiunga` and `platform` come from.
WHERE_SCRIPT = textwrap.dedent(
    """
    import json, platform, uuid, sqlalchemy
    platform.system()
    import kiunga.platform.settings, kiunga.tenants, kiunga.channels
    import kiunga.integrations, kiunga.migrations
    print(json.dumps({
        "stdlib_platform": platform.__file__,
        "settings": kiunga.platform.settings.__file__,
        "roots": {
            name: list(getattr(kiunga, name).__path__)
            for name in ("platform", "tenants", "channels", "integrations", "migrations")
        },
    }))
    """
)


def run_python(code: str, cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, **kwargs
    )


def test_the_standard_platform_module_wins_from_the_repository_root():
    result = run_python("import platform, uuid, sqlalchemy; print(platform.system())", REPO_ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Linux"

    where = run_python(WHERE_SCRIPT, REPO_ROOT)
    assert where.returncode == 0, where.stderr
    assert Path(json.loads(where.stdout)["stdlib_platform"]).resolve().parent == STDLIB


def test_the_editable_install_maps_each_root_onto_its_folder(tmp_path):
    where = run_python(WHERE_SCRIPT, tmp_path)  # far from the checkout
    assert where.returncode == 0, where.stderr
    found = json.loads(where.stdout)
    for name, paths in found["roots"].items():
        # setuptools adds a placeholder entry to namespace packages' paths in editable mode.
        real = [Path(p).resolve() for p in paths if "__editable__" not in p]
        assert real == [REPO_ROOT / name], name
    assert Path(found["settings"]).resolve() == REPO_ROOT / "platform" / "settings.py"


def test_pytest_imports_the_same_files_as_the_editable_install(tmp_path):
    import platform

    where = json.loads(run_python(WHERE_SCRIPT, tmp_path).stdout)
    assert Path(kiunga.platform.settings.__file__).resolve() == Path(where["settings"]).resolve()
    # `python -m pytest` puts the repository root on sys.path; platform/ must still lose.
    assert Path(platform.__file__).resolve().parent == STDLIB


# Loaded by Alembic's interpreter at start-up (through PYTHONPATH); at exit it writes down
# where the kiunga modules that Alembic's env.py imported came from.
SITECUSTOMIZE = textwrap.dedent(
    """
    import atexit, json, os, sys

    def _report():
        modules = {
            name: getattr(module, "__file__", None)
            for name, module in list(sys.modules.items())
            if name.startswith("kiunga.") and getattr(module, "__file__", None)
        }
        with open(os.environ["KIUNGA_IMPORT_REPORT"], "w") as out:
            json.dump({"modules": modules, "platform": sys.modules["platform"].__file__}, out)

    atexit.register(_report)
    """
)


def run_alembic(args: list[str], settings_env: dict, hook_dir: Path) -> tuple[str, dict]:
    hook_dir.mkdir()
    (hook_dir / "sitecustomize.py").write_text(SITECUSTOMIZE)
    report = hook_dir / "report.json"
    env = {
        **os.environ,
        **settings_env,
        "PYTHONPATH": str(hook_dir),
        "KIUNGA_IMPORT_REPORT": str(report),
    }
    alembic = Path(sys.executable).with_name("alembic")
    result = subprocess.run(
        [str(alembic), *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout, json.loads(report.read_text())


def assert_all_from_checkout(imported: dict) -> None:
    assert Path(imported["platform"]).resolve().parent == STDLIB
    modules = imported["modules"]
    assert "kiunga.platform.models" in modules and "kiunga.migrations.support" in modules
    for name, file in modules.items():
        assert Path(file).resolve().is_relative_to(REPO_ROOT), (name, file)


def test_alembic_from_the_repository_root_imports_the_checkout(settings_env, tmp_path):
    stdout, imported = run_alembic(["-n", "platform", "current"], settings_env, tmp_path / "p")
    assert "(head)" in stdout
    assert_all_from_checkout(imported)


def test_alembic_on_a_tenant_imports_the_checkout(settings_env, make_tenant, tmp_path):
    tenant = make_tenant("alembic")
    stdout, imported = run_alembic(
        ["-n", "tenant", "-x", f"tenant={tenant.slug}", "current"], settings_env, tmp_path / "t"
    )
    assert "(head)" in stdout
    assert_all_from_checkout(imported)
    assert "kiunga.tenants.models" in imported["modules"]
