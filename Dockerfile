# One build stage for all of txc, then a slim runtime image per service (compose.yaml picks the
# target). Everything comes from Debian bookworm's packages.
FROM debian:bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends g++ cmake make pkg-config libnats-dev \
      libcpp-httplib-dev nlohmann-json3-dev libsqlite3-dev libjemalloc-dev ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt .clang-format ./
COPY cmake cmake
COPY coordinator coordinator
COPY participant-sdk participant-sdk
COPY examples examples
COPY tools tools
COPY tests/support tests/support
COPY docs/openapi.yaml docs/openapi.yaml
COPY bench bench
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTXC_BUILD_TESTS=OFF \
 && cmake --build build -j "$(nproc)" --target txc-coordinator txcctl order-service inventory-service \
 && install -D build/coordinator/txc-coordinator /out/txc-coordinator \
 && install -D build/tools/txcctl/txcctl /out/txcctl \
 && install -D build/examples/order-service /out/order-service \
 && install -D build/examples/inventory-service /out/inventory-service

# What every txc process needs at run time (curl: the health checks).
FROM debian:bookworm AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends libnats3.4 libsqlite3-0 libcpp-httplib0.11 \
      libjemalloc2 curl \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir /data
WORKDIR /data

FROM runtime AS coordinator
# txcctl too, for `docker compose exec coordinator txcctl list`.
COPY --from=build /out/txc-coordinator /out/txcctl /usr/local/bin/
ENV TXC_HTTP_ADDR=0.0.0.0:8080 TXC_DB_PATH=/data/txc.db
EXPOSE 8080
HEALTHCHECK --interval=2s --timeout=2s --retries=15 CMD curl -fs http://127.0.0.1:8080/readyz
ENTRYPOINT ["txc-coordinator"]

FROM runtime AS order-service
COPY --from=build /out/order-service /usr/local/bin/
EXPOSE 8081
HEALTHCHECK --interval=2s --timeout=2s --retries=15 CMD curl -fs http://127.0.0.1:8081/readyz
ENTRYPOINT ["order-service", "--db", "/data/order.db", "--http-addr", "0.0.0.0:8081"]

FROM runtime AS inventory-service
COPY --from=build /out/inventory-service /usr/local/bin/
EXPOSE 8082
HEALTHCHECK --interval=2s --timeout=2s --retries=15 CMD curl -fs http://127.0.0.1:8082/readyz
ENTRYPOINT ["inventory-service", "--db", "/data/inventory.db", "--http-addr", "0.0.0.0:8082"]

# nats-server from Debian, with JetStream.
FROM debian:bookworm AS nats
RUN apt-get update \
 && apt-get install -y --no-install-recommends nats-server curl \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir /data
EXPOSE 4222 8222
HEALTHCHECK --interval=2s --timeout=2s --retries=15 CMD curl -fs http://127.0.0.1:8222/healthz
ENTRYPOINT ["nats-server", "--jetstream", "--store_dir", "/data", "-m", "8222"]
