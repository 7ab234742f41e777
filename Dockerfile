# The API (qa serve) for docker-compose.yml. Models come from the Python packages (the encoder,
# spaCy's model) and qa/models (the reader, the re-scorer); the data dir is a volume.
FROM python:3.11-slim
WORKDIR /app
# torch's CPU build first, so nothing pulls a multi-GB CUDA build
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md ./
COPY qa qa
COPY embeddings embeddings
COPY api api
COPY eval eval
RUN pip install --no-cache-dir '.[milvus]'
ENV QA_DATA_DIR=/data HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
VOLUME /data
EXPOSE 8000
CMD ["qa", "serve", "--host", "0.0.0.0", "--port", "8000"]
