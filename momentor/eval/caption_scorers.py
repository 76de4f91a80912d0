"""Caption scorers of the COCO caption toolkit: PTB tokenizer, METEOR 1.5 (Java) and CIDEr-D.

The jars ship inside ``pycocoevalcap``; Java must be on PATH. This module talks to them the way
``pycocoevalcap`` does (same command lines, same punctuation list, same ``SCORE``/``EVAL`` protocol of
METEOR), so the numbers are theirs, with three changes that do not change a score:

- METEOR's per-pair statistics are computed once per distinct (hypothesis, references) and reused: an
  ``EVAL`` of a group of statistics gives the group's corpus score and every pair's segment score;
- the statistics lines are streamed to the JVM by a writer thread while the answers are read, instead of
  one round trip per pair;
- the tokenizer's temporary file goes to the system temp folder, not into site-packages.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from pycocoevalcap.cider.cider import Cider

from momentor.eval.jsonio import EvalInputError

# punctuation tokens that pycocoevalcap's PTBTokenizer drops after tokenizing
PUNCTUATIONS = {
    "''",
    "'",
    "``",
    "`",
    "-LRB-",
    "-RRB-",
    "-LCB-",
    "-RCB-",
    ".",
    "?",
    "!",
    ",",
    ":",
    "-",
    "--",
    "...",
    ";",
}


def _package_dir() -> Path:
    spec = importlib.util.find_spec("pycocoevalcap")
    if spec is None or not spec.submodule_search_locations:
        raise EvalInputError(
            "pycocoevalcap is not installed; pip install pycocoevalcap (it ships the METEOR jar)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        raise EvalInputError(
            "java is not on PATH; METEOR 1.5 and the PTB tokenizer are Java programs (install a JRE)"
        )
    return java


def remove_nonascii(text: str) -> str:
    """Non-ASCII characters become spaces, as ActivityNet's densevid_eval does before tokenizing."""
    return "".join(c if ord(c) < 128 else " " for c in text)


def ptb_tokenize(captions: list[str]) -> list[str]:
    """Lower-cased PTB tokens joined by spaces, punctuation removed; one output per input caption."""
    if not captions:
        return []
    jar = _package_dir() / "tokenizer" / "stanford-corenlp-3.4.1.jar"
    with tempfile.TemporaryDirectory(prefix="momentor-ptb-") as tmp:
        source = Path(tmp) / "captions.txt"
        source.write_bytes("\n".join(c.replace("\n", " ") for c in captions).encode())
        out = subprocess.run(
            [
                _java(),
                "-cp",
                str(jar),
                "edu.stanford.nlp.process.PTBTokenizer",
                "-preserveLines",
                "-lowerCase",
                str(source),
            ],
            capture_output=True,
            check=True,
        ).stdout.decode()
    lines = out.split("\n")
    if len(lines) < len(captions):
        raise RuntimeError(f"PTB tokenizer returned {len(lines)} lines for {len(captions)} captions")
    return [
        " ".join(w for w in line.rstrip().split(" ") if w not in PUNCTUATIONS)
        for line in lines[: len(captions)]
    ]


class Meteor:
    """One running METEOR 1.5 process (English, normalized), as ``pycocoevalcap.meteor.Meteor`` starts it.

    Use as a context manager, or call :meth:`close`. The JVM loads its paraphrase table at start (~10 s),
    so keep one instance for a whole evaluation.
    """

    def __init__(self):
        folder = _package_dir() / "meteor"
        self._proc = subprocess.Popen(
            [_java(), "-jar", "-Xmx2G", "meteor-1.5.jar", "-", "-", "-stdio", "-l", "en", "-norm"],
            cwd=folder,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._cache: dict[tuple[str, tuple[str, ...]], str] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> Meteor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.stdin.close()
            self._proc.kill()
            self._proc.wait()

    def _exchange(self, lines: list[str], answers: int) -> list[str]:
        """Send ``lines``, read ``answers`` lines back; a writer thread keeps both pipes flowing."""

        def write():
            for line in lines:
                self._proc.stdin.write((line + "\n").encode())
            self._proc.stdin.flush()

        with self._lock:
            writer = threading.Thread(target=write, daemon=True)
            writer.start()
            out = [self._proc.stdout.readline().decode().strip() for _ in range(answers)]
            writer.join()
        if any(not line for line in out):
            raise RuntimeError("METEOR stopped answering; is Java working and is there memory for -Xmx2G?")
        return out

    def stats(self, pairs: list[tuple[str, list[str]]]) -> list[str]:
        """METEOR statistics of each (hypothesis, references) pair."""
        keys = [(hyp, tuple(refs)) for hyp, refs in pairs]
        todo = list(dict.fromkeys(k for k in keys if k not in self._cache))
        if todo:
            lines = [
                " ||| ".join(("SCORE", " ||| ".join(refs), hyp.replace("|||", "").replace("  ", " ")))
                for hyp, refs in todo
            ]
            self._cache.update(zip(todo, self._exchange(lines, len(lines))))
        return [self._cache[k] for k in keys]

    def evaluate_stats(self, groups: list[list[str]]) -> list[tuple[float, list[float]]]:
        """For each group of statistics: (corpus score, segment scores); an empty group gives (0, [])."""
        asked = [g for g in groups if g]
        lines = ["EVAL ||| " + " ||| ".join(g) for g in asked]
        answers = iter(self._exchange(lines, sum(len(g) + 1 for g in asked)))
        results = []
        for group in groups:
            if not group:
                results.append((0.0, []))
                continue
            segments = [float(next(answers)) for _ in group]
            results.append((float(next(answers)), segments))
        return results

    def compute_score(self, gts: dict, res: dict) -> tuple[float, list[float]]:
        """``pycocoevalcap``'s interface: ``gts``/``res`` map an id to references / a one-item list."""
        stats = self.stats([(res[k][0], list(gts[k])) for k in gts])
        corpus, segments = self.evaluate_stats([stats])[0]
        return corpus, segments


def cider(gts: dict, res: dict) -> float:
    """CIDEr-D of the pairs, with document frequencies from these references only (pycocoevalcap)."""
    score, _ = Cider().compute_score(gts, res)
    return float(score)
