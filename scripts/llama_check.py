"""Decode two tokens of a several-token prompt with the installed llama-cpp-python, on two threads
(scripts/common.sh runs it: a crash here means a wheel built with llama.cpp's AMX kernels).
A one-token batch never reaches those kernels, hence the longer prompt. Exits 0 where there is
no engine to try."""

import importlib.util
import sys

if importlib.util.find_spec("llama_cpp") is None:
    sys.exit(0)

from llama_cpp import Llama

from edgemeter.runner.backends.llamacpp import default_model

Llama(model_path=str(default_model()), n_ctx=64, n_threads=2, verbose=False)(
    "Say hi to the world, please.", max_tokens=2
)
