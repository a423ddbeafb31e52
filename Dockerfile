# Multi-stage build: cgo is needed by the SQLite driver.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=1 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/backupd ./cmd/backupd \
 && CGO_ENABLED=1 go build -trimpath -ldflags "-s -w" -o /out/backupctl ./cmd/backupctl

# The runtime image carries the database clients the postgres and mysql
# sources call, and runs as an unprivileged user with its data in a volume.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates postgresql-client mariadb-client sqlite3 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 backupd \
 && useradd --system --uid 10001 --gid backupd --home-dir /var/lib/backupd --no-create-home --shell /usr/sbin/nologin backupd \
 && install -d -o backupd -g backupd -m 0750 /var/lib/backupd
COPY --from=build /out/backupd /out/backupctl /usr/local/bin/
USER backupd
WORKDIR /var/lib/backupd
VOLUME ["/var/lib/backupd"]
EXPOSE 8080
# A container is reached from outside its own loopback, so it listens on
# every interface, which the daemon allows only with auth.tokens in the
# config: mount one at /etc/backupd/backupd.yaml. Without tokens it refuses
# to start and says so.
# Unhealthy while backups cannot be stored (archive volume or bucket gone).
HEALTHCHECK --interval=30s --timeout=10s CMD ["backupctl", "--server", "http://127.0.0.1:8080", "health"]
ENTRYPOINT ["backupd"]
CMD ["serve", "--config", "/etc/backupd/backupd.yaml", "--data-dir", "/var/lib/backupd", "--listen", "0.0.0.0:8080"]
