# The Hugging Face Space (Docker SDK); docs/space.md. Build arguments:
#   TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu   PyTorch's CPU-only wheels (the builder
#                    must reach that index; empty: PyPI's default Linux wheels, the CUDA build)
#   KEEP_GPU_LIBS=1  keep the libraries a CPU never loads (scripts/space_prune.txt), for a GPU Space
#   DASHBOARD_ALLOWED_MODELS  public mode's online models, fetched now when the builder is online
#                    (a Space passes its variables as build arguments too)
FROM python:3.11-slim
ARG TORCH_INDEX_URL=""
ARG KEEP_GPU_LIBS=0
ARG DASHBOARD_ALLOWED_MODELS=""
# Spaces run the container as uid 1000. Its home belongs to root; the one folder it may write is
# the cache below, made at build time with everything in it (SmolLM2 and Gemma 3 converted, the
# sentiment head, matplotlib's font list, allowed online models).
RUN useradd -m -u 1000 user && chown -R root:root /home/user
ENV HOME=/home/user \
    XDG_CACHE_HOME=/home/user/.cache \
    DASHBOARD_CACHE_DIR=/home/user/.cache/ai-dashboard \
    HF_HOME=/home/user/.cache/huggingface \
    TORCH_HOME=/home/user/.cache/torch \
    MPLCONFIGDIR=/home/user/.cache/matplotlib \
    DASHBOARD_ALLOWED_MODELS=$DASHBOARD_ALLOWED_MODELS
# The code and its environment: owned by root, read-only (scripts/build_space_image.sh).
WORKDIR /app
COPY . .
RUN SPACE_CACHE=/home/user/.cache bash scripts/build_space_image.sh
# Bytecode was compiled at build time; the code folder is read-only at run time.
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER user
EXPOSE 7860
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD [".venv/bin/python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:7860/_stcore/health', timeout=4)"]
# Public mode, no downloads, XSRF off for the Space's iframe: see the script.
CMD ["scripts/serve_space.sh"]
