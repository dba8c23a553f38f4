"""How long `import minires` takes in a fresh interpreter, against `import torch`.

Run as a plain script: python benchmarks/bench_import.py [repeats]
It also checks that importing minires imports no CuPy (so never touches a GPU).
"""

import statistics
import subprocess
import sys
import time


def import_seconds(module: str, repeats: int) -> list:
    """Wall-clock seconds of `python -c "import module"`, minus a bare interpreter start."""
    def run(code):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return time.perf_counter() - start

    bare = statistics.median(run("pass") for _ in range(repeats))
    return [run(f"import {module}") - bare for _ in range(repeats)]


def main():
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 9
    check = "import sys, minires; assert 'cupy' not in sys.modules, 'import minires imported cupy'"
    subprocess.run([sys.executable, "-c", check], check=True)
    ours = statistics.median(import_seconds("minires", repeats))
    print(f"import minires: {ours * 1000:.0f} ms (median of {repeats}, interpreter start excluded); "
          "cupy not imported")
    try:
        theirs = statistics.median(import_seconds("torch", repeats))
    except subprocess.CalledProcessError:
        print("import torch: torch not installed, no ratio")
        return
    print(f"import torch:   {theirs * 1000:.0f} ms; minires / torch = {ours / theirs:.2f}")


if __name__ == "__main__":
    main()
