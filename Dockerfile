# Hugging Face Space (Docker SDK): the same setup script as on a laptop, then the app on port 7860.
FROM python:3.11-slim
RUN useradd -m -u 1000 user
USER user
# Public mode: every visitor is a stranger (README: "Public mode"); no run-time downloads.
ENV HOME=/home/user DASHBOARD_CACHE_DIR=/home/user/app/.model-cache DASHBOARD_PUBLIC=1
WORKDIR /home/user/app
COPY --chown=user . .
RUN bash scripts/setup.sh && \
    .venv/bin/python -c "from backend.runtime.gguf_convert import ensure_converted; ensure_converted()"
ENV HF_HUB_OFFLINE=1
EXPOSE 7860
CMD [".venv/bin/python", "-m", "streamlit", "run", "app.py", "--server.port", "7860", "--server.address", "0.0.0.0"]
