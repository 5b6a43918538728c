# The exporter (and runner) image. python:3.11-slim is multi-arch, so the same file builds for
# arm64 (Pi 5, Jetson) and amd64: docker buildx build --platform linux/arm64,linux/amd64 .
# EXTRAS="nvidia" adds NVML for NVIDIA GPUs (see docker-compose.nvidia.yml).
# The wheel is built in a stage with a C compiler, for the power sampler's C thread
# (exporter/_native_sampler.c); the image itself carries no compiler.
FROM python:3.11-slim AS wheel
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY exporter ./exporter
COPY runner ./runner
COPY edgemeter ./edgemeter
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
ARG EXTRAS=""
COPY --from=wheel /wheels /wheels
RUN pip install --no-cache-dir "$(ls /wheels/edgemeter-*.whl)${EXTRAS:+[$EXTRAS]}" && rm -rf /wheels
EXPOSE 19477
# Reads the host's /sys and /proc, mounted read-only at /host (docker-compose.yml).
ENTRYPOINT ["exporter"]
CMD ["--listen", "0.0.0.0:19477", "--sysfs", "/host/sys", "--procfs", "/host/proc"]
