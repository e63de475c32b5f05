"""Validators for deploy/: Kubernetes objects, KServe custom resources, the
server's config.properties and the deployment policy of issue 12.

Schemas come from installed, pinned packages only (nothing is downloaded):
- core Kubernetes objects: kubernetes-validate (its strict JSON schemas, which
  refuse unknown fields), for every Kubernetes minor it ships from
  MIN_KUBERNETES on;
- KServe's InferenceService and ClusterServingRuntime: the typed models of the
  `kserve` SDK (installed with --no-deps: only its generated model sources are
  read, statically, with `ast`; the SDK itself is never imported, so its
  server dependencies are not needed). Each model's `openapi_types`,
  `attribute_map` and required fields (the setters that refuse None) give the
  schema; Kubernetes types inside them (V1Container, V1Volume...) are checked
  against kubernetes-validate's strict definitions.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
from packaging.version import Version
from referencing import Registry, Resource

KSERVE_VERSION = "0.21.0"
MIN_KUBERNETES = "1.29"


class ManifestError(ValueError):
    """A manifest that a schema or the deployment policy refuses; the message
    names the file (or object), the field path and the problem."""


# --------------------------------------------------------------------------
# Kubernetes (kubernetes-validate)


def kubernetes_versions() -> list[str]:
    """The Kubernetes minors kubernetes-validate ships, MIN_KUBERNETES and newer."""
    versions = sorted({".".join(v.split(".")[:2]) for v in kubernetes_validate.utils.all_versions()}, key=Version)
    return [v for v in versions if Version(v) >= Version(MIN_KUBERNETES)]


def _path(parts) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "<root>"


def validate_kubernetes(obj: dict, where: str, versions: list[str] | None = None) -> list[str]:
    """Validates a core Kubernetes object (strict: unknown fields refused) for
    every version; returns the versions checked, ManifestError otherwise."""
    versions = versions or kubernetes_versions()
    for v in versions:
        try:
            kubernetes_validate.validate(obj, v, strict=True)
        except kubernetes_validate.ValidationError as e:
            raise ManifestError(
                f"{where}: {obj.get('kind')} at {_path(e.absolute_path)}: {e.message} (Kubernetes {e.version})") from None
        except kubernetes_validate.SchemaNotFoundError as e:
            raise ManifestError(f"{where}: {e.message}") from None
    return versions


@functools.lru_cache(maxsize=None)
def _kubernetes_definitions(version: str) -> dict:
    root = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    full = [v for v in kubernetes_validate.utils.all_versions() if v.startswith(version + ".")][-1]
    with open(root / f"v{full}-local-strict" / "_definitions.json") as f:
        return json.load(f)


@functools.lru_cache(maxsize=None)
def _kubernetes_type_validator(definition: str, version: str):
    defs = _kubernetes_definitions(version)
    registry = Registry().with_resource(defs["$id"], Resource.from_contents(defs))
    schema = {"$schema": defs["$schema"], "$ref": f"{defs['$id']}#/$defs/{definition}"}
    return jsonschema.Draft202012Validator(schema, registry=registry)


def _kubernetes_definition_name(type_name: str, version: str) -> str | None:
    """The kubernetes-validate definition of a Kubernetes Python client type:
    V1Container -> io.k8s.api.core.v1.Container, V1ObjectMeta ->
    io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta,
    K8sIoApiAppsV1DeploymentStrategy -> io.k8s.api.apps.v1.DeploymentStrategy."""
    defs = _kubernetes_definitions(version)["$defs"]
    if type_name.startswith("K8sIo"):
        key = "iok8s" + type_name[len("K8sIo"):].lower()
        hits = [d for d in defs if d.replace(".", "").replace("-", "").lower() == key]
        return hits[0] if len(hits) == 1 else None
    m = re.fullmatch(r"V(\d+(?:alpha\d+|beta\d+)?)([A-Z]\w*)", type_name)
    if not m:
        return None
    api_version, kind = "v" + m.group(1), m.group(2)
    hits = [d for d in defs if d.split(".")[-2:] == [api_version, kind]]
    for prefix in ("io.k8s.api.core.", "io.k8s.apimachinery.pkg.apis.meta."):
        preferred = [d for d in hits if d.startswith(prefix)]
        if len(preferred) == 1:
            return preferred[0]
    return hits[0] if len(hits) == 1 else None


# --------------------------------------------------------------------------
# KServe (the kserve SDK's generated models, read statically)


class KServeSchema:
    """The schema of KServe's custom resources as the pinned `kserve` SDK
    defines them: for each model class, its fields (JSON key -> type string)
    and the required ones."""

    def __init__(self):
        try:
            installed = importlib.metadata.version("kserve")
        except importlib.metadata.PackageNotFoundError:
            raise ManifestError(f"the kserve SDK is not installed (pip install --no-deps kserve=={KSERVE_VERSION})")
        if installed != KSERVE_VERSION:
            raise ManifestError(f"kserve {installed} installed; the manifests are validated against {KSERVE_VERSION}")
        spec = importlib.util.find_spec("kserve")  # locates the package without importing it
        models = Path(list(spec.submodule_search_locations)[0]) / "models"
        self.version = installed
        self.fields: dict[str, dict[str, str]] = {}
        self.required: dict[str, set[str]] = {}
        for source in sorted(models.glob("*.py")):
            self._read(source)
        if "V1beta1InferenceService" not in self.fields or "V1alpha1ClusterServingRuntime" not in self.fields:
            raise ManifestError(f"{models}: no InferenceService/ClusterServingRuntime models found")

    def _read(self, source: Path) -> None:
        code = source.read_text()
        tree = ast.parse(code, filename=str(source))
        for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
            consts = {}
            for stmt in cls.body:
                if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
                        and stmt.targets[0].id in ("openapi_types", "attribute_map")):
                    consts[stmt.targets[0].id] = ast.literal_eval(stmt.value)
            if set(consts) != {"openapi_types", "attribute_map"}:
                continue
            types, names = consts["openapi_types"], consts["attribute_map"]
            self.fields[cls.name] = {names[attr]: types[attr] for attr in types}
            # Required: the setter refuses None ("Invalid value for `x`, must not be `None`").
            text = ast.get_source_segment(code, cls) or ""
            self.required[cls.name] = {names[a] for a in re.findall(r"Invalid value for `(\w+)`, must not be `None`", text)
                                       if a in names}

    def validate(self, obj: dict, where: str) -> None:
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        m = re.fullmatch(r"serving\.kserve\.io/(v\w+)", str(api_version))
        if not m or not isinstance(kind, str):
            raise ManifestError(f"{where}: apiVersion {api_version!r} / kind {kind!r} is not a KServe resource")
        type_name = m.group(1)[0].upper() + m.group(1)[1:] + kind
        if type_name not in self.fields:
            raise ManifestError(f"{where}: no KServe {KSERVE_VERSION} schema for {kind} {api_version}")
        errors: list[str] = []
        self._check(obj, type_name, [], errors)
        if errors:
            raise ManifestError(f"{where}: {kind} " + "; ".join(errors))

    def _check(self, value: Any, type_name: str, path: list, errors: list[str]) -> None:
        where = _path(path)
        if type_name == "object":
            return
        if type_name in ("str", "datetime"):
            if not isinstance(value, str):
                errors.append(f"at {where}: {value!r} is not a string")
            return
        if type_name == "int":
            if not isinstance(value, int) or isinstance(value, bool):
                errors.append(f"at {where}: {value!r} is not an integer")
            return
        if type_name == "float":
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                errors.append(f"at {where}: {value!r} is not a number")
            return
        if type_name == "bool":
            if not isinstance(value, bool):
                errors.append(f"at {where}: {value!r} is not a boolean")
            return
        if type_name == "ResourceQuantity":
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                errors.append(f"at {where}: {value!r} is not a quantity")
            return
        m = re.fullmatch(r"list\[(.+)\]", type_name)
        if m:
            if not isinstance(value, list):
                errors.append(f"at {where}: {value!r} is not a list")
                return
            for i, item in enumerate(value):
                self._check(item, m.group(1), path + [i], errors)
            return
        m = re.fullmatch(r"dict\(str, (.+)\)", type_name)
        if m:
            if not isinstance(value, dict):
                errors.append(f"at {where}: {value!r} is not a mapping")
                return
            for k, item in value.items():
                if not isinstance(k, str):
                    errors.append(f"at {where}: key {k!r} is not a string")
                self._check(item, m.group(1), path + [str(k)], errors)
            return
        if type_name in self.fields:
            if not isinstance(value, dict):
                errors.append(f"at {where}: {value!r} is not an object ({type_name})")
                return
            known = self.fields[type_name]
            for key, item in value.items():
                if key not in known:
                    errors.append(f"at {_path(path + [key])}: unknown field {key!r} of {type_name}")
                    continue
                self._check(item, known[key], path + [key], errors)
            for key in sorted(self.required[type_name] - set(value)):
                errors.append(f"at {where}: missing required field {key!r} of {type_name}")
            return
        # A Kubernetes type inside a KServe resource: kubernetes-validate's strict definitions.
        version = kubernetes_versions()[-1]
        definition = _kubernetes_definition_name(type_name, version)
        if definition is None:
            errors.append(f"at {where}: no schema for type {type_name}")
            return
        for e in _kubernetes_type_validator(definition, version).iter_errors(value):
            errors.append(f"at {_path(path + list(e.absolute_path))}: {e.message} ({definition}, Kubernetes {version})")


@functools.lru_cache(maxsize=1)
def kserve_schema() -> KServeSchema:
    return KServeSchema()


# --------------------------------------------------------------------------
# config.properties


def server_config_keys(header: Path) -> set[str]:
    """The fields of optimum::serving::ServerConfig: the keys config.properties may set."""
    text = header.read_text()
    m = re.search(r"struct ServerConfig \{(.*?)\n\};", text, re.S)
    if not m:
        raise ManifestError(f"{header}: struct ServerConfig not found")
    keys = set(re.findall(r"^\s+[\w:<>, ]+?\s+(\w+)\s*(?:=[^;]*)?;", m.group(1), re.M))
    if not keys:
        raise ManifestError(f"{header}: no fields in struct ServerConfig")
    return keys


def parse_properties(text: str, where: str, known_keys: set[str]) -> dict[str, str]:
    """key=value lines, '#'/'!' comments; unknown or repeated keys refused."""
    out: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s[0] in "#!":
            continue
        if "=" not in s:
            raise ManifestError(f"{where}:{n}: not key=value: {s!r}")
        key, value = (x.strip() for x in s.split("=", 1))
        if key not in known_keys:
            raise ManifestError(f"{where}:{n}: unknown key {key!r}")
        if key in out:
            raise ManifestError(f"{where}:{n}: key {key!r} repeated")
        out[key] = value
    return out


def listen_address(value: str, key: str) -> tuple[str, int]:
    m = re.fullmatch(r"http://([0-9.]+|\[[0-9a-fA-F:]+\]|[\w.-]+):(\d+)", value)
    if not m:
        raise ManifestError(f"{key}: {value!r} is not http://HOST:PORT")
    return m.group(1), int(m.group(2))


# --------------------------------------------------------------------------
# Deployment policy (issue 12 §5)


def check_deployment_policy(deployment: dict, where: str) -> None:
    """Probes, resources, the model store and a hardened security context."""
    pod = deployment.get("spec", {}).get("template", {}).get("spec", {})
    name = f"{where}: Deployment {deployment.get('metadata', {}).get('name')!r}"
    containers = pod.get("containers") or []
    if not containers:
        raise ManifestError(f"{name}: no containers")
    if (pod.get("securityContext") or {}).get("runAsNonRoot") is not True:
        raise ManifestError(f"{name}: spec.template.spec.securityContext.runAsNonRoot must be true")
    claims = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod.get("volumes") or []
              if "persistentVolumeClaim" in v}
    for c in containers:
        cname = f"{name} container {c.get('name')!r}"
        ports = {p.get("name"): p.get("containerPort") for p in c.get("ports") or []}

        def probe_get(probe_key: str, want_path: str) -> None:
            probe = c.get(probe_key)
            if not probe:
                raise ManifestError(f"{cname}: no {probe_key}")
            get = probe.get("httpGet")
            if not get or get.get("path") != want_path:
                raise ManifestError(f"{cname}: {probe_key} must be an HTTP GET of {want_path}, not {probe!r}")
            port = ports.get(get.get("port"), get.get("port"))
            if port != 8080:
                raise ManifestError(f"{cname}: {probe_key} port {get.get('port')!r} is not the inference port 8080")

        probe_get("readinessProbe", "/v2/health/ready")
        probe_get("livenessProbe", "/ping")
        resources = c.get("resources") or {}
        for kind in ("requests", "limits"):
            for res in ("cpu", "memory"):
                if res not in (resources.get(kind) or {}):
                    raise ManifestError(f"{cname}: no resources.{kind}.{res}")
        sc = c.get("securityContext") or {}
        if sc.get("readOnlyRootFilesystem") is not True:
            raise ManifestError(f"{cname}: securityContext.readOnlyRootFilesystem must be true")
        if sc.get("allowPrivilegeEscalation") is not False:
            raise ManifestError(f"{cname}: securityContext.allowPrivilegeEscalation must be false")
        if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
            raise ManifestError(f"{cname}: securityContext.capabilities.drop must contain ALL")
        mounts = {m["mountPath"]: m for m in c.get("volumeMounts") or []}
        store = mounts.get("/mnt/models")
        if not store or store.get("name") not in claims:
            raise ManifestError(f"{cname}: no PersistentVolumeClaim volume mounted at /mnt/models")
        if "/tmp" not in mounts:
            raise ManifestError(f"{cname}: no writable volume at /tmp (TMPDIR) with a read-only root file system")
