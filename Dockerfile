# streamhook container image.
#
# Base images: Red Hat UBI 9. They are freely redistributable, receive RHEL security errata,
# and are what OpenShift's restricted-v2 SCC and support expectations are built around
# (arbitrary UID in group 0, FIPS-capable OpenSSL, RPM provenance).
#   build:   ubi9/python-311 - Python 3.11 with pip and compilers, in case a dependency has
#            no wheel for this platform.
#   runtime: ubi9/ubi-minimal plus the python3.11 RPM - the same /usr/bin/python3.11 the
#            virtualenv was built against, without compilers, pip or the s2i tooling of the
#            python-311 image: a much smaller image and attack surface.
# Build: podman build -t streamhook:0.1.0 .   (or docker build; the context is the repo root)

FROM registry.access.redhat.com/ubi9/python-311:9.6 AS build

USER 0
RUN install -d -o 1001 -g 0 /opt/streamhook /opt/build-tools
USER 1001
WORKDIR /opt/app-root/src
COPY --chown=1001:0 pyproject.toml README.md ./
COPY --chown=1001:0 service ./service

# Build the wheel, then install only that wheel (and its dependencies) into a fresh venv.
# The venv uses the RPM interpreter so it runs unchanged on ubi-minimal's python3.11.
RUN /usr/bin/python3.11 -m venv /opt/build-tools \
    && /opt/build-tools/bin/pip install --no-cache-dir "build>=1.2" \
    && /opt/build-tools/bin/python -m build --wheel --outdir /tmp/dist . \
    && /usr/bin/python3.11 -m venv /opt/streamhook \
    && /opt/streamhook/bin/pip install --no-cache-dir /tmp/dist/streamhook-*.whl \
    && /opt/streamhook/bin/pip uninstall --yes pip setuptools \
    && /opt/streamhook/bin/streamhook --version

FROM registry.access.redhat.com/ubi9/ubi-minimal:9.6

ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="streamhook" \
      org.opencontainers.image.description="Registry push notifications become exact OpenShift ImageStreamMappings" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="registry.access.redhat.com/ubi9/ubi-minimal:9.6" \
      name="streamhook" \
      summary="Registry push notifications become exact OpenShift ImageStreamMappings" \
      io.k8s.display-name="streamhook" \
      io.k8s.description="Webhook receiver that maps registry pushes to OpenShift image streams" \
      io.openshift.tags="openshift,imagestream,registry,webhook" \
      io.openshift.expose-services="8080:http"

# The runtime gets the interpreter RPM only; UBI errata arrive by rebuilding the image, so
# the package is deliberately not pinned to one release.
# hadolint ignore=DL3041
RUN microdnf install -y --nodocs --setopt=install_weak_deps=0 python3.11 \
    && microdnf clean all \
    && rm -rf /var/cache/yum /var/lib/dnf/history*

# Root-owned: the service cannot modify its own code.
COPY --from=build --chown=0:0 /opt/streamhook /opt/streamhook

# Runs as any UID (OpenShift assigns one) with group 0: nothing in the image needs writing,
# and /tmp is the only writable path the chart mounts (read-only root filesystem).
ENV PATH=/opt/streamhook/bin:${PATH} \
    HOME=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    STREAMHOOK_CONFIG=/etc/streamhook/config.yaml

USER 1001:0
EXPOSE 8080
ENTRYPOINT ["streamhook"]
CMD ["serve"]
