"""The package's layers import downward only, and the numeric core imports nothing else.

Read from the source with `ast` (lazy imports inside functions count too), so a
shortcut taken anywhere shows up here.  README "Architecture" draws the same layers.
"""
import ast
import re
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "pelvis_tilt"

LAYERS = [
    # numbers in, numbers out: numpy / scipy only
    ("core", {"landmarks", "geometry", "outline", "tilt", "filters", "cues", "signals", "exercises", "camera_pose",
              "personal_range", "nudges", "tracking", "results"}),
    # files, sources, stores, the model bundle
    ("io", {"paths", "quiet", "fonts", "memory", "report", "sources", "video_out", "model", "profiles", "history"}),
    # MediaPipe, and the subject among the people it finds
    ("pose", {"crop", "landmarker", "pose"}),
    # the settings and the one per-frame chain, and the files a run writes
    ("pipeline", {"settings", "pipeline", "outputs"}),
    # pictures and pages
    ("draw", {"overlay", "html_report", "history_page"}),
    # the commands' work
    ("apps", {"analyze", "live", "window", "calibrate", "routine", "batch", "batch_worker", "batch_store", "engines",
              "watch", "session_log", "checks"}),
    # the command line and the public namespace
    ("cli", {"cli", "daily_cli", "__main__", "__init__"}),
]
RANK = {m: i for i, (_, mods) in enumerate(LAYERS) for m in mods}


def package_imports(path: Path) -> set[str]:
    """Modules of this package that ``path`` imports (relative or absolute, anywhere in the file)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:
                out.add(node.module.split(".")[0])
            elif node.level == 1:
                out.update(a.name for a in node.names)
            elif node.module and node.module.startswith("pelvis_tilt."):
                out.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            out.update(a.name.split(".")[1] for a in node.names if a.name.startswith("pelvis_tilt."))
    return out


def modules() -> list[str]:
    return sorted(p.stem for p in PKG.glob("*.py"))


def test_every_module_has_a_layer():
    assert set(modules()) == set(RANK), "place new modules in LAYERS (and the README's layout)"


def test_imports_go_downward_only():
    up = [f"{m} ({LAYERS[RANK[m]][0]}) imports {d} ({LAYERS[RANK[d]][0]})"
          for m in modules() for d in sorted(package_imports(PKG / f"{m}.py")) if d in RANK and RANK[d] > RANK[m]]
    assert not up, "\n".join(up)


def test_core_imports_only_core_and_numeric_libraries():
    allowed = {"numpy", "scipy", "__future__", "dataclasses", "enum", "functools", "typing", "collections", "json",
               "math", "importlib", "pathlib",
               "hashlib", "io"}   # the estimator's files: their checksum, an .npz read from its bytes
    bad = []
    for m in LAYERS[0][1]:
        for node in ast.walk(ast.parse((PKG / f"{m}.py").read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
            bad += [f"{m}: {n}" for n in names if n.split(".")[0] not in allowed]
    assert not bad, bad


def test_batch_and_engines_do_not_import_each_other_in_a_cycle():
    graph = {m: package_imports(PKG / f"{m}.py") & set(RANK) for m in modules()}

    def reaches(a: str, b: str, seen=()) -> bool:
        return any(n == b or (n not in seen and reaches(n, b, (*seen, n))) for n in graph[a])

    cycles = [m for m in modules() if reaches(m, m)]
    assert not cycles, f"import cycles through {cycles}"


def test_readme_layout_lists_every_module():
    readme = (PKG.parent / "README.md").read_text()
    layout = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"\b(\w+)\.py\b", layout))
    missing = set(modules()) - listed - {"__init__", "__main__"}
    assert not missing, f"README layout misses {sorted(missing)}"
