"""Lists the packages of the `kiunga` import root, one per folder, so that nothing is missed.

`platform/` deliberately has no `__init__.py` (it would shadow the standard library's
`platform` module for anything run from the repository root), so every folder is treated
as a (namespace) package and mapped under `kiunga.` by the package-dir table in
pyproject.toml.
"""

from pathlib import Path

from setuptools import setup

ROOTS = ("platform", "tenants", "channels", "integrations", "migrations")
SKIP = {"__pycache__"}
# Files shipped beside the code (templates, static files, Alembic's script template…);
# tests/packaging checks that every project file of these folders reaches the wheel.
DATA_SUFFIXES = {
    # web: templates and static files
    ".html", ".jinja", ".j2", ".css", ".js", ".mjs", ".map", ".svg", ".png", ".jpg", ".jpeg",
    ".gif", ".webp", ".ico", ".woff", ".woff2", ".ttf", ".webmanifest",
    # data and configuration read at run time
    ".mako", ".sql", ".txt", ".json", ".csv", ".yaml", ".yml", ".toml", ".ini", ".xml",
    ".dictionary",
}  # fmt: skip


def _folders(root: Path):
    yield root
    for path in sorted(root.rglob("*")):
        if path.is_dir() and not (SKIP & set(path.parts)):
            yield path


def _packages_and_data():
    here = Path(__file__).parent
    packages, package_dir, package_data = [], {}, {}
    for top in ROOTS:
        for folder in _folders(here / top):
            rel = folder.relative_to(here)
            name = "kiunga." + ".".join(rel.parts)
            packages.append(name)
            package_dir[name] = rel.as_posix()
            data = [p.name for p in folder.iterdir() if p.is_file() and p.suffix in DATA_SUFFIXES]
            if data:
                package_data[name] = data
    return packages, package_dir, package_data


packages, package_dir, package_data = _packages_and_data()
setup(packages=packages, package_dir=package_dir, package_data=package_data)
