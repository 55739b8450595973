"""The Kubernetes manifests in deploy/kubernetes/, read and checked offline: no cluster here.

Every object is validated against the Kubernetes OpenAPI schema (strict: an unknown or misspelt
field fails) of the oldest Kubernetes the manifests support and of the newest the validator
knows, with the schemas kubernetes-validate ships. Then they are checked against the project:
the commands they run exist, the probes ask the port gunicorn binds, every secret setting comes
from the Secret, the hosts are the portal's, the pods run as the image's user. kubectl, where it
is installed, builds the two kustomizations as `kubectl apply -k` would and makes the Secret from
its template (client-side, `--dry-run=client`); those tests are required in CI.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
from urllib.parse import urlsplit

import click
import kubernetes_validate
import pytest
import yaml
from gunicorn.config import validate_string_to_addr_list

from auth.identity_token import generate_key_pem
from portal.config import PROJECT_ROOT, ConfigError, load_settings
from tests.support.doc_pages import documentation_text
from tests.test_deployment_files import (
    DOCKERFILE,
    NGINX,
    PYPROJECT,
    SERVICES,
    final_stage,
    gunicorn_options,
    image_env,
    nginx_directives,
    run_portal_command,
    settings_read_by_the_portal,
)

pytestmark = pytest.mark.unit

KUBERNETES = PROJECT_ROOT / "deploy/kubernetes"
# 1.30: the first release with the preStop `sleep` action on by default (deployment.yaml).
OLDEST_KUBERNETES = "1.30"
VERSIONS = [OLDEST_KUBERNETES, ".".join(kubernetes_validate.latest_version().split(".")[:2])]
SECRET_NAME = "portal-secrets"
SECRET_TEMPLATE = KUBERNETES / "portal-secrets.env.example"
CONFIG_ENV = KUBERNETES / "config/portal.env"
# Named like a secret, but development settings that production never sets.
DEVELOPMENT_ONLY = re.compile(r"^DEV_IDP_")
SECRET_LIKE = re.compile(
    r"SECRET|PASSWORD|TOKEN(?!_TTL)|^PORTAL_IDENTITY_KEY$|^DATABASE_URL$|^REDIS_URL$"
)


# --- helpers -------------------------------------------------------------------------------------


def kustomization_files():
    return sorted(KUBERNETES.rglob("kustomization.yaml"))


def manifest_files():
    """Every YAML file under deploy/kubernetes that is an object for the cluster."""
    return sorted(p for p in KUBERNETES.rglob("*.yaml") if p.name != "kustomization.yaml")


def relative(path):
    return str(path.relative_to(KUBERNETES))


def objects(path):
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


def every_object():
    return [(relative(path), obj) for path in manifest_files() for obj in objects(path)]


def the(kind, name):
    [found] = [o for _, o in every_object() if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def kustomization(folder):
    return yaml.safe_load((KUBERNETES / folder / "kustomization.yaml").read_text())


def env_file(path):
    """{KEY: value} of a kustomize/kubectl env file: `KEY=value` lines taken as written."""
    entries = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            assert key not in entries, f"{key} is listed twice in {path.name}"
            entries[key] = value
    return entries


def config():
    return env_file(CONFIG_ENV)


def pod_template(obj):
    """The pod a workload makes (a CronJob's is one level further down, in its Job's)."""
    job = obj["spec"]["jobTemplate"]["spec"] if obj["kind"] == "CronJob" else obj["spec"]
    return job["template"]


def pod_spec(obj):
    return pod_template(obj)["spec"]


WORKLOADS = [
    ("Deployment", "portal"),
    ("Job", "portal-migrate"),
    ("CronJob", "portal-purge-sessions"),
]
WORKLOAD_IDS = [f"{kind}/{name}" for kind, name in WORKLOADS]


def workload(key):
    return the(*key)


def container(key):
    [found] = pod_spec(workload(key))["containers"]
    return found


def server():
    return container(("Deployment", "portal"))


def container_port(name):
    [port] = [p["containerPort"] for p in server()["ports"] if p["name"] == name]
    return port


def gunicorn_port():
    """The port gunicorn binds in the pod: PORTAL_BIND from the ConfigMap, else the image's."""
    return int(config().get("PORTAL_BIND", image_env()["PORTAL_BIND"]).rsplit(":", 1)[1])


def secret_settings():
    """Every setting the portal reads that holds a secret (a password inside a URL too)."""
    names = settings_read_by_the_portal()
    return {n for n in names if SECRET_LIKE.search(n) and not DEVELOPMENT_ONLY.match(n)}


def dockerfile_uid():
    [uid] = re.findall(r"useradd [^\n]*--uid (\d+)", DOCKERFILE)
    return int(uid)


def kubectl():
    """kubectl's path; its tests are required in CI, where the machine has it."""
    path = shutil.which("kubectl")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("kubectl must be installed in CI: the kustomize builds are checked there")
        pytest.skip("kubectl is not installed; the kustomize builds are checked where it is")
    return path


def run_kubectl(*arguments):
    # An empty kubeconfig: nothing here may reach a cluster, whatever the machine is set up for.
    with tempfile.NamedTemporaryFile("w", suffix=".kubeconfig") as kubeconfig:
        result = subprocess.run(
            [kubectl(), f"--kubeconfig={kubeconfig.name}", *arguments],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    return result.stdout


def build(folder):
    """The objects `kubectl apply -k deploy/kubernetes/<folder>` would send."""
    return [o for o in yaml.safe_load_all(run_kubectl("kustomize", str(KUBERNETES / folder))) if o]


def built(objects_, kind):
    return [o for o in objects_ if o["kind"] == kind]


# --- schema --------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("path", "obj"),
    every_object(),
    ids=[f"{path}:{obj['kind']}/{obj['metadata']['name']}" for path, obj in every_object()],
)
def test_every_manifest_is_valid_for_the_oldest_and_the_newest_kubernetes(path, obj, version):
    assert kubernetes_validate.validate(obj, version, strict=True) == version


def test_the_schemas_know_which_fields_each_version_has():
    """1.28 had no preStop `sleep` (1.29 added it behind a feature gate that 1.30 turned on)."""
    with pytest.raises(kubernetes_validate.ValidationError, match="'sleep' was unexpected"):
        kubernetes_validate.validate(the("Deployment", "portal"), "1.28", strict=True)


def test_every_manifest_is_in_exactly_one_kustomization_and_every_listed_file_exists():
    listed = []
    for path in kustomization_files():
        for resource in yaml.safe_load(path.read_text()).get("resources", []):
            target = (path.parent / resource).resolve()
            assert target.exists(), f"{relative(path)} lists {resource}, which is missing"
            if target.is_file():
                listed.append(relative(target))
    assert sorted(listed) == [relative(p) for p in manifest_files()]


def test_the_root_kustomization_runs_the_portal_and_leaves_the_migration_to_its_own_step():
    root = kustomization(".")
    assert root["namespace"] == "portal"
    assert "config" in root["resources"] and "migrate" not in root["resources"]
    assert root["components"] == ["release"]
    assert kustomization("migrate") == {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": "portal",
        "resources": ["../config", "job.yaml"],
        "components": ["../release"],
    }


@pytest.mark.parametrize("folder", [".", "migrate"])
def test_a_kustomization_builds_into_objects_valid_for_the_oldest_and_the_newest_kubernetes(
    folder,
):
    objects_ = build(folder)
    assert objects_
    for obj in objects_:
        for version in VERSIONS:
            assert kubernetes_validate.validate(obj, version, strict=True) == version
        assert obj["kind"] == "Namespace" or obj["metadata"]["namespace"] == "portal"


def test_the_built_configmap_holds_exactly_portal_env():
    [configmap] = built(build("."), "ConfigMap")
    assert configmap["metadata"]["name"].startswith("portal-config-")
    assert configmap["data"] == config()


def test_the_migration_and_the_portal_read_the_same_settings_and_run_the_same_image():
    release = kustomization("release")["images"]
    [image] = [f"{i['newName']}:{i['newTag']}" for i in release]
    root, migrate = build("."), build("migrate")
    assert built(root, "ConfigMap") == built(migrate, "ConfigMap")
    [configmap] = built(root, "ConfigMap")
    pods = [pod_spec(o) for o in built(root, "Deployment") + built(root, "CronJob")]
    pods += [pod_spec(o) for o in built(migrate, "Job")]
    assert len(pods) == 3
    for pod in pods:
        [container_] = pod["containers"]
        assert container_["image"] == image
        assert container_["envFrom"] == [
            {"configMapRef": {"name": configmap["metadata"]["name"]}},
            {"secretRef": {"name": SECRET_NAME}},
        ]


# --- what runs -----------------------------------------------------------------------------------


def test_the_portal_runs_the_dockerfiles_command():
    [cmd] = [json.loads(arguments) for keyword, arguments in final_stage() if keyword == "CMD"]
    assert server()["command"] == cmd == ["gunicorn", "-c", "gunicorn.conf.py"]


@pytest.mark.parametrize("key", WORKLOADS, ids=WORKLOAD_IDS)
def test_every_command_a_workload_runs_exists(key):
    program, *arguments = container(key)["command"]
    assert program in {"portal", "gunicorn"}
    if program == "portal":
        assert program in PYPROJECT["project"]["scripts"]
        assert isinstance(run_portal_command(arguments), click.Command)
    else:
        assert any(d.startswith("gunicorn") for d in PYPROJECT["project"]["dependencies"])
        assert (PROJECT_ROOT / gunicorn_options(arguments).config).is_file()


def test_the_migration_job_runs_portal_db_upgrade_once_without_retries():
    job = workload(("Job", "portal-migrate"))
    assert container(("Job", "portal-migrate"))["command"] == ["portal", "db", "upgrade"]
    assert job["spec"]["backoffLimit"] == 0
    assert pod_spec(job)["restartPolicy"] == "Never"


def test_the_portal_pods_never_migrate():
    spec = pod_spec(workload(("Deployment", "portal")))
    assert "initContainers" not in spec
    assert "db upgrade" not in " ".join(server()["command"] + server().get("args", []))


def test_the_compose_migration_and_the_kubernetes_job_run_the_same_command():
    assert container(("Job", "portal-migrate"))["command"] == SERVICES["migrate"]["command"]


def test_the_session_purge_runs_nightly_one_at_a_time():
    cronjob = workload(("CronJob", "portal-purge-sessions"))
    assert cronjob["spec"]["schedule"] == "17 3 * * *"
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    assert container(("CronJob", "portal-purge-sessions"))["command"] == [
        "portal",
        "db",
        "purge-sessions",
        "--days",
        "7",
    ]


@pytest.mark.parametrize("key", WORKLOADS, ids=WORKLOAD_IDS)
def test_every_workload_runs_the_image_the_release_names(key):
    assert container(key)["image"] == "portal"
    assert container(key)["imagePullPolicy"] == "IfNotPresent"


def test_the_release_names_the_image_the_dockerfile_builds_under_compose_s_name():
    release = kustomization("release")
    assert release["kind"] == "Component"
    [image] = release["images"]
    assert image["name"] == SERVICES["portal-1"]["image"].split(":")[0] == "portal"
    assert isinstance(image["newTag"], str) and image["newTag"]


# --- probes, ports, rollouts ---------------------------------------------------------------------


def test_the_probes_ask_readyz_and_healthz_on_the_port_gunicorn_binds():
    probes = {
        name: (server()[name]["httpGet"]["path"], container_port(server()[name]["httpGet"]["port"]))
        for name in ("readinessProbe", "livenessProbe", "startupProbe")
    }
    port = gunicorn_port()
    assert port == 8000
    assert probes == {
        "readinessProbe": ("/readyz", port),
        "livenessProbe": ("/healthz", port),
        "startupProbe": ("/healthz", port),
    }


def test_the_container_exposes_only_gunicorns_port_as_the_image_does():
    assert server()["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
    assert ("EXPOSE", str(gunicorn_port())) in final_stage()


def test_the_service_sends_to_gunicorns_port_on_the_portal_pods_only():
    service = the("Service", "portal")
    [port] = service["spec"]["ports"]
    assert container_port(port["targetPort"]) == gunicorn_port()
    selector = service["spec"]["selector"]
    assert selector == workload(("Deployment", "portal"))["spec"]["selector"]["matchLabels"]
    for key in WORKLOADS:
        matches = selector.items() <= pod_template(workload(key))["metadata"]["labels"].items()
        assert matches is (key[0] == "Deployment"), key


def test_a_rollout_adds_a_pod_before_it_removes_one():
    deployment = workload(("Deployment", "portal"))
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}


def test_disruptions_take_one_portal_pod_at_a_time():
    budget = the("PodDisruptionBudget", "portal")
    assert budget["spec"]["maxUnavailable"] == 1
    assert budget["spec"]["selector"] == workload(("Deployment", "portal"))["spec"]["selector"]


def test_a_pod_finishes_its_requests_before_it_is_killed():
    pause = server()["lifecycle"]["preStop"]["sleep"]["seconds"]
    graceful = int(config()["PORTAL_GRACEFUL_TIMEOUT"])
    grace = pod_spec(workload(("Deployment", "portal")))["terminationGracePeriodSeconds"]
    assert (pause, graceful, grace) == (5, 30, 45)
    assert pause + graceful < grace


@pytest.mark.parametrize("key", WORKLOADS, ids=WORKLOAD_IDS)
def test_every_workload_requests_and_limits_cpu_and_memory(key):
    resources = container(key)["resources"]
    assert set(resources) == {"requests", "limits"}
    assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}


# --- the pods' security -------------------------------------------------------------------------


@pytest.mark.parametrize("key", WORKLOADS, ids=WORKLOAD_IDS)
def test_every_pod_runs_as_the_dockerfiles_user_on_a_read_only_root(key):
    uid = dockerfile_uid()
    assert uid == 10001
    assert pod_spec(workload(key))["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "fsGroup": uid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert container(key)["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert pod_spec(workload(key))["automountServiceAccountToken"] is False


def mounts(key):
    """{mount path: emptyDir settings} of a workload's container."""
    volumes = {v["name"]: v for v in pod_spec(workload(key))["volumes"]}
    return {m["mountPath"]: volumes[m["name"]]["emptyDir"] for m in container(key)["volumeMounts"]}


def test_the_portal_writes_only_to_its_instance_folder_and_tmp_both_empty_dirs():
    # gunicorn's worker heartbeats and the metrics files (gunicorn.conf.py) go to the temporary
    # folder, which is /tmp in the image (it sets no TMPDIR).
    assert "TMPDIR" not in image_env()
    assert mounts(("Deployment", "portal")) == {
        image_env()["PORTAL_INSTANCE_PATH"]: {"sizeLimit": "64Mi"},
        "/tmp": {"medium": "Memory", "sizeLimit": "64Mi"},
    }


JOBS = [key for key in WORKLOADS if key[0] != "Deployment"]


@pytest.mark.parametrize("key", JOBS, ids=[f"{kind}/{name}" for kind, name in JOBS])
def test_a_job_gets_a_writable_tmp_and_nothing_else(key):
    assert mounts(key) == {"/tmp": {"sizeLimit": "16Mi"}}


def test_the_namespace_enforces_the_restricted_pod_security_standard():
    labels = the("Namespace", "portal")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


# --- settings and secrets ------------------------------------------------------------------------


def test_the_secret_settings_are_the_ones_expected():
    assert secret_settings() == {
        "SECRET_KEY",
        "PORTAL_IDENTITY_KEY",
        "OIDC_CLIENT_SECRET",
        "AUTH0_MANAGEMENT_CLIENT_SECRET",
        "PORTAL_WEBHOOK_SECRET",
        "PORTAL_METRICS_TOKEN",
        "DATABASE_URL",
        "REDIS_URL",
    }


def test_the_secret_template_lists_every_secret_setting_and_nothing_else():
    assert set(env_file(SECRET_TEMPLATE)) == secret_settings()


def test_the_secret_template_holds_no_values():
    assert set(env_file(SECRET_TEMPLATE).values()) == {""}


def test_no_secret_setting_is_in_the_configmap():
    assert sorted(set(config()) & secret_settings()) == []


@pytest.mark.parametrize("key", WORKLOADS, ids=WORKLOAD_IDS)
def test_every_workload_takes_its_settings_from_the_configmap_then_the_secret_alone(key):
    assert container(key)["envFrom"] == [
        {"configMapRef": {"name": "portal-config"}},
        {"secretRef": {"name": SECRET_NAME}},
    ]
    assert "env" not in container(key)


def strings(node):
    """Every key and string value in a parsed manifest (comments are not part of it)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)
    elif isinstance(node, str):
        yield node


def test_no_manifest_names_a_secret_setting_or_holds_a_secret():
    named = {s for _, obj in every_object() for s in strings(obj)} & secret_settings()
    assert sorted(named) == []
    assert [o["kind"] for _, o in every_object() if o["kind"] == "Secret"] == []


def test_the_secret_made_from_the_template_as_it_is_stops_the_portal():
    environment = config() | env_file(SECRET_TEMPLATE)
    with pytest.raises(ConfigError) as refused:
        load_settings(environment, read_dotenv=False)
    assert str(refused.value) == (
        "SECRET_KEY is required in production (at least 32 random characters)"
    )


def test_the_configmap_filled_in_with_a_secret_makes_a_production_portal_behind_one_proxy():
    environment = config() | {
        "AUTH0_DOMAIN": "tenant.eu.auth0.com",
        "OIDC_CLIENT_ID": "portal-client",
        "SECRET_KEY": "Rb8-qW3zLx0NvT5sKc2Ym7Jh4Dp9Ga1Ue6Fi_Ot",
        "PORTAL_IDENTITY_KEY": generate_key_pem().replace("\n", "\\n"),
        "OIDC_CLIENT_SECRET": "Hn4_Vq9kXs2Lw7Cz0Pb5Mt8Rd3Jy6Fg1Ea-Ku",
        "DATABASE_URL": "mysql+pymysql://portal:pw@mariadb:3306/portal?charset=utf8mb4",
        "REDIS_URL": "redis://redis:6379/0",
    }
    settings = load_settings(environment, read_dotenv=False)
    assert (settings.production, settings.base_url, settings.trusted_proxies) == (
        True,
        "https://portal.example.org",
        1,
    )
    assert (settings.issuer, settings.json_logs, settings.secure_cookies) == (
        "https://tenant.eu.auth0.com/",
        True,
        True,
    )
    assert settings.origins.product_origin("stable/hello") == (
        "https://hello--stable.portal.example.org"
    )


def test_the_configmap_names_only_settings_the_portal_reads():
    known = settings_read_by_the_portal()
    assert sorted(set(config()) - known) == []
    assert [name for name in config() if DEVELOPMENT_ONLY.match(name)] == []


def test_the_configmap_leaves_the_deployment_specific_settings_blank():
    blank = {"AUTH0_DOMAIN", "OIDC_CLIENT_ID", "OIDC_AUDIENCE", "AUTH0_MANAGEMENT_CLIENT_ID"}
    assert {name for name, value in config().items() if not value} == blank


def test_kubectl_makes_the_secret_from_the_template_with_exactly_its_keys():
    secret = json.loads(
        run_kubectl(
            "-n",
            "portal",
            "create",
            "secret",
            "generic",
            SECRET_NAME,
            f"--from-env-file={SECRET_TEMPLATE}",
            "--dry-run=client",
            "-o",
            "json",
        )
    )
    assert secret["data"] == dict.fromkeys(sorted(secret_settings()), "")


def test_the_docs_and_the_template_make_the_secret_the_same_way():
    command = f"kubectl -n portal create secret generic {SECRET_NAME} --from-env-file="
    assert command in documentation_text()
    assert command in SECRET_TEMPLATE.read_text()


# --- hosts, proxy, network -----------------------------------------------------------------------


def ingress_rules():
    """{host: [(path, pathType, service, port name)]} of the Ingress."""
    return {
        rule["host"]: [
            (
                p["path"],
                p["pathType"],
                p["backend"]["service"]["name"],
                p["backend"]["service"]["port"]["name"],
            )
            for p in rule["http"]["paths"]
        ]
        for rule in the("Ingress", "portal")["spec"]["rules"]
    }


def test_the_portal_host_is_the_base_urls_and_the_host_domain():
    base = urlsplit(config()["PORTAL_BASE_URL"])
    assert (base.scheme, base.hostname) == ("https", config()["PORTAL_HOST_DOMAIN"])
    assert config()["PORTAL_HOST_DOMAIN"] == "portal.example.org"


def test_the_ingress_sends_the_portal_host_and_every_product_host_to_the_service():
    domain = config()["PORTAL_HOST_DOMAIN"]
    service_port = the("Service", "portal")["spec"]["ports"][0]["name"]
    route = [("/", "Prefix", "portal", service_port)]
    assert ingress_rules() == {domain: route, f"*.{domain}": route}


def test_the_ingress_serves_both_hosts_with_one_wildcard_certificate():
    domain = config()["PORTAL_HOST_DOMAIN"]
    assert the("Ingress", "portal")["spec"]["tls"] == [
        {"hosts": [domain, f"*.{domain}"], "secretName": "portal-tls"}
    ]


def test_the_ingress_keeps_websockets_open_for_an_hour_and_limits_bodies_like_nginx_conf():
    ingress = the("Ingress", "portal")
    annotations = ingress["metadata"]["annotations"]
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "3600"
    assert annotations["nginx.ingress.kubernetes.io/proxy-send-timeout"] == "3600"
    assert [annotations["nginx.ingress.kubernetes.io/proxy-body-size"]] == nginx_directives(
        NGINX, "client_max_body_size"
    )


def test_the_portal_trusts_one_proxy_and_gunicorn_takes_its_scheme_from_any_peer():
    assert config()["PORTAL_TRUSTED_PROXIES"] == "1"
    assert validate_string_to_addr_list(config()["FORWARDED_ALLOW_IPS"]) == ["*"]


def test_only_the_ingress_controller_and_the_metrics_scraper_reach_the_portal_pods():
    policy = the("NetworkPolicy", "portal")["spec"]
    assert policy["podSelector"] == workload(("Deployment", "portal"))["spec"]["selector"]
    assert policy["policyTypes"] == ["Ingress"]
    sources = [
        (
            rule["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
            rule["from"][0].get("podSelector"),
            [(container_port(p["port"]), p["protocol"]) for p in rule["ports"]],
        )
        for rule in policy["ingress"]
    ]
    controller = {"matchLabels": {"app.kubernetes.io/name": "ingress-nginx"}}
    assert sources == [
        ("ingress-nginx", controller, [(gunicorn_port(), "TCP")]),
        ("monitoring", None, [(gunicorn_port(), "TCP")]),
    ]


def test_mariadb_and_redis_run_outside_the_manifests_under_names_of_their_own():
    external = {
        o["metadata"]["name"]: o["spec"]
        for _, o in every_object()
        if o["kind"] == "Service" and o["spec"]["type"] == "ExternalName"
    }
    assert sorted(external) == ["mariadb", "redis"]
    assert all(set(spec) == {"type", "externalName"} for spec in external.values())
    kinds = sorted(o["kind"] for _, o in every_object())
    assert kinds == [
        "CronJob",
        "Deployment",
        "Ingress",
        "Job",
        "Namespace",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "Service",
        "Service",
        "Service",
    ]


def test_the_secret_templates_urls_name_the_external_services():
    template = SECRET_TEMPLATE.read_text()
    assert "mysql+pymysql://portal:<password>@mariadb:3306/portal?charset=utf8mb4" in template
    assert "redis://redis:6379/0" in template


def test_every_manifest_path_the_docs_name_exists():
    text = documentation_text()
    named = {n.rstrip(".") for n in re.findall(r"deploy/kubernetes(?:/[\w.-]+)*", text)}
    assert "deploy/kubernetes/migrate" in named
    assert sorted(n for n in named if not (PROJECT_ROOT / n).exists()) == []
