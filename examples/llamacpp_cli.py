"""A one-shot command-line llama.cpp engine built on llama-cpp-python, for trying (and testing)
``runner --backend command --preset llama-cli`` without building llama.cpp's own ``llama-cli``.

It behaves like ``llama-cli -no-cnv``: prints the prompt, streams the generated text to stdout with
a flush per token, and lets llama.cpp print its own ``llama_perf_context_print`` timings on
stderr when it is done. Those lines are llama.cpp's, not this script's.

    python examples/llamacpp_cli.py [-m GGUF] -p PROMPT [-n 64] [--seed 42] [--temp 0]
"""

from __future__ import annotations

import argparse
import sys


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-m", "--model", help="GGUF file (default: the embedded SmolLM2-135M)")
    p.add_argument("-p", "--prompt", required=True)
    p.add_argument("-n", "--n-predict", type=int, default=64)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--temp", type=float, default=0.0)
    p.add_argument("--no-display-prompt", action="store_true")
    args = p.parse_args()

    from llama_cpp import Llama

    from edgemeter.runner.backends.llamacpp import default_model

    model = args.model or default_model()
    if model is None:
        print("error: no -m GGUF and the embedded model is not installed", file=sys.stderr)
        return 2
    llm = Llama(str(model), n_ctx=2048, seed=args.seed, verbose=True)  # verbose: llama.cpp's perf lines
    if not args.no_display_prompt:
        sys.stdout.write(args.prompt)
        sys.stdout.flush()
    for chunk in llm.create_completion(
        args.prompt, max_tokens=args.n_predict, temperature=args.temp, seed=args.seed, stream=True
    ):
        sys.stdout.write(chunk["choices"][0]["text"])
        sys.stdout.flush()
    sys.stdout.write("\n")
    llm.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
