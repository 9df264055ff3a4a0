# syntax=docker/dockerfile:1
# The Multus-TS image for real registries (docker build / buildah / kaniko):
#   docker build -t ghcr.io/multus-ts/multus-ts:0.1.0 .
# scripts/image.sh builds the same file set as an OCI archive without a Docker daemon (the local
# cluster's image); docs/install.md says what is in it and why.

# --- build: the multi-call SEA (dist/bin/multus + hard links), the static C shim, the lock module ---
FROM docker.io/library/node:24.21.0-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json ./
COPY scripts ./scripts
COPY src ./src
RUN node scripts/build.ts \
 && mkdir -p /out/usr/local/bin \
 && cp dist/bin/multus dist/bin/multus-shim dist/bin/multus-native.node /out/usr/local/bin/ \
 && for c in multus-daemon multus-install multusctl passthru; do ln -s multus /out/usr/local/bin/$c; done

# --- runtime: glibc + libstdc++ (the SEA), util-linux flock (the engine's locks), coreutils chroot --
FROM docker.io/library/debian:bookworm-slim AS tools
FROM gcr.io/distroless/cc-debian12
COPY --from=tools /usr/bin/flock /usr/bin/flock
COPY --from=tools /usr/sbin/chroot /usr/sbin/chroot
# One copy of the SEA; the other commands are links to it (the command is the program's name).
COPY --from=build /out/ /
ENV PATH=/usr/local/bin:/usr/sbin:/usr/bin
LABEL org.opencontainers.image.source="https://github.com/multus-ts/multus-ts"
CMD ["/usr/local/bin/multus-daemon"]
