# Multi-stage build of nbo on Debian bookworm. The build stage installs exactly what
# scripts/install-deps.sh installs (keep the two lists in sync).
FROM debian:bookworm AS build
RUN apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      build-essential cmake pkg-config \
      libboost1.81-dev libboost-program-options1.81-dev \
      nlohmann-json3-dev libspdlog-dev libfmt-dev \
      libsqlite3-dev sqlite3 libeigen3-dev \
      libgtest-dev libgmock-dev libbenchmark-dev \
      libxgboost-dev libsvm-dev \
      libssl-dev curl ccache \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DNBO_BUILD_TESTS=OFF -DNBO_BUILD_BENCH=OFF \
    && cmake --build build -j "$(nproc)" --target nbo

FROM debian:bookworm-slim
RUN apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      libboost-program-options1.81.0 libspdlog1.10 libfmt9 libsqlite3-0 libxgboost0 libsvm3 \
      libssl3 curl \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /src/build/nbo /usr/local/bin/nbo
COPY models ./models
COPY migrations ./migrations
RUN mkdir -p /app/var
EXPOSE 8080
# Listening on 0.0.0.0, the server refuses to start until the database holds an API key: make one
# on the mounted database first (docker run ... nbo keys add --db var/nbo.db --name NAME --role
# admin), or append --allow-anonymous to serve without keys on a private network.
HEALTHCHECK --interval=10s --timeout=2s CMD curl -fsS http://127.0.0.1:8080/health || exit 1
ENTRYPOINT ["nbo", "serve", "--host", "0.0.0.0", "--port", "8080", "--models", "models", \
            "--db-path", "var/nbo.db", "--migrations", "migrations"]
