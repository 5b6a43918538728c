# The exporter (and runner) image. python:3.11-slim is multi-arch, so the same file builds for
# arm64 (Pi 5, Jetson) and amd64: docker buildx build --platform linux/arm64,linux/amd64 .
# EXTRAS="nvidia" adds NVML for NVIDIA GPUs (see docker-compose.nvidia.yml).
FROM python:3.11-slim
ARG EXTRAS=""
WORKDIR /app
COPY pyproject.toml README.md ./
COPY exporter ./exporter
COPY runner ./runner
COPY edgemeter ./edgemeter
RUN pip install --no-cache-dir ".${EXTRAS:+[$EXTRAS]}"
EXPOSE 19477
# Reads the host's /sys and /proc, mounted read-only at /host (docker-compose.yml).
ENTRYPOINT ["exporter"]
CMD ["--listen", "0.0.0.0:19477", "--sysfs", "/host/sys", "--procfs", "/host/proc"]
