# syntax=docker/dockerfile:1
# Build: a static binary (no cgo: SQLite is the pure-Go modernc.org/sqlite).
FROM golang:1.26.10-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY cmd ./cmd
COPY internal ./internal
COPY web ./web
ARG VERSION=dev
# The same command internal/cli's TestBinary runs, so a green test suite means this step builds.
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/hellosvc/hello/internal/cli.version=${VERSION}" \
      -o /out/hello ./cmd/hello \
 && mkdir -p /out/data

# Run: distroless static, non-root (uid 65532), nothing but the binary.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/hello /hello
# A writable home for the embedded SQLite default; real deployments set HELLO_DB to PostgreSQL.
COPY --from=build --chown=65532:65532 /out/data /data
# The Amazon RDS CAs (deploy/certs/refresh): DSNs verify the server with sslmode=verify-full.
COPY deploy/certs/rds-ca.pem /etc/hello/rds-ca.pem
ENV HELLO_ADDR=:8080 \
    HELLO_DB=sqlite:/data/hello.db
USER 65532:65532
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD ["/hello", "healthcheck"]
ENTRYPOINT ["/hello"]
CMD ["serve"]
