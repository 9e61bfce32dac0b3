"""docker-compose.yml, Dockerfile, .dockerignore and .env.example agree with the code.

Docker is not needed: the files are parsed and every name they mention (WSGI app,
Celery app and options, management commands, settings module, environment
variables, volumes, services) is looked up in the project itself, so a rename in
the code fails here instead of in a deploy. config.settings.production is never
imported (it needs a real SECRET_KEY); facts about it are read from its source.
"""

import ast
import importlib
import importlib.util
import json
import re
import shlex
from fnmatch import fnmatch
from functools import cache
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import environ
import pytest
import yaml
from celery import Celery
from celery.bin.celery import celery as celery_cli
from celery.worker.control import Panel
from django.conf import settings
from django.core.management import get_commands, load_command_class
from django.core.management.base import CommandError
from django.urls import resolve
from gunicorn.config import Config as GunicornConfig
from gunicorn.util import import_app

PROJECT = Path(settings.BASE_DIR)
COMPOSE_FILE = PROJECT / "docker-compose.yml"
DOCKERFILE = PROJECT / "Dockerfile"
DOCKERIGNORE = PROJECT / ".dockerignore"
ENV_EXAMPLE = PROJECT / ".env.example"
SETTINGS_DIR = PROJECT / "config" / "settings"

PRODUCTION_SETTINGS = "config.settings.production"
APP_SERVICES = {"migrate", "web", "worker", "beat"}
SERVICES = {"postgres", "redis"} | APP_SERVICES
ONE_SHOT = {"migrate"}
LONG_RUNNING = SERVICES - ONE_SHOT
# Set by Docker in every container.
CONTAINER_VARIABLES = {"HOSTNAME", "HOME", "PATH"}


# --- Reading the files -------------------------------------------------------


@cache
def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, value = line.partition("=")
        assert sep, f".env.example: not NAME=value: {line!r}"
        assert name not in values, f".env.example sets {name} twice"
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name.strip()] = value
    return values


@cache
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def service(name: str) -> dict:
    return compose()["services"][name]


_VARIABLE = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_]\w*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}|(?P<bare>[A-Za-z_]\w*))"
)


def interpolate(text: str, env: dict[str, str]) -> tuple[str, list[str]]:
    """Compose's variable substitution: returns the result and the variables it read.

    Supports ${VAR}, $VAR, ${VAR:-default}, ${VAR-default}, ${VAR:?error},
    ${VAR?error}, ${VAR:+alt}, ${VAR+alt}; `$$` is a literal `$`.
    """
    out, names, i = [], [], 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
            continue
        match = _VARIABLE.match(text, i)
        if not match:
            out.append(text[i])
            i += 1
            continue
        name = match["braced"] or match["bare"]
        names.append(name)
        op, arg, value = match["op"], match["arg"], env.get(name)
        is_set = value is not None and (value != "" or not (op or "").startswith(":"))
        if op in ("-", ":-"):
            value = value if is_set else arg
        elif op in ("?", ":?"):
            assert is_set, f"{name} must be set: {arg}"
        elif op in ("+", ":+"):
            value = arg if is_set else ""
        out.append(value or "")
        i = match.end()
    return "".join(out), names


def strings_in(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings_in(value)


def resolved(node):
    """A compose value with its ${VAR}s filled in from .env.example."""
    if isinstance(node, str):
        return interpolate(node, env_example())[0]
    if isinstance(node, list):
        return [resolved(value) for value in node]
    if isinstance(node, dict):
        return {key: resolved(value) for key, value in node.items()}
    return node


def argv(command) -> list[str]:
    command = resolved(command)
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def healthcheck_argv(name: str) -> list[str]:
    test = resolved(service(name)["healthcheck"]["test"])
    if isinstance(test, str):
        return shlex.split(test)
    kind, *rest = test
    assert kind in ("CMD", "CMD-SHELL"), f"{name}: healthcheck test must start with CMD or CMD-SHELL"
    return shlex.split(rest[0]) if kind == "CMD-SHELL" else rest


def seconds(duration: str) -> float:
    """A compose duration (`30s`, `1m30s`, `11m`) in seconds."""
    units = {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    parts = re.findall(r"(\d+(?:\.\d+)?)(us|ms|s|m|h)", duration)
    assert parts, f"not a duration: {duration!r}"
    assert "".join(number + unit for number, unit in parts) == duration, f"not a duration: {duration!r}"
    return sum(float(number) * units[unit] for number, unit in parts)


def mounts(name: str) -> dict[str, str]:
    """Named volumes of a service: volume name -> mount point in the container."""
    result = {}
    for entry in service(name).get("volumes", []):
        if isinstance(entry, dict):
            source, target = entry.get("source"), entry["target"]
            if entry.get("type", "volume") != "volume":
                continue
        else:
            source, target = resolved(entry).split(":")[:2]
        if source and not source.startswith(("/", ".", "~")):
            result[source] = target
    return result


def settings_env_reads() -> set[tuple[str, str]]:
    """(caster, VARIABLE) for every env.<caster>("VARIABLE") in config/settings/*.py."""
    pattern = re.compile(r"\benv(?:\.(?P<caster>[a-z_]+))?\(\s*[\"'](?P<name>[A-Z][A-Z0-9_]*)[\"']")
    reads = set()
    for path in SETTINGS_DIR.glob("*.py"):
        for match in pattern.finditer(path.read_text()):
            reads.add((match["caster"] or "str", match["name"]))
    return reads


def production_setting(name: str):
    """A literal assigned in production.py, read without importing it."""
    tree = ast.parse((SETTINGS_DIR / "production.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"production.py does not assign {name}")


def is_production_grade_secret_key(key: str) -> bool:
    # The rule production.py enforces before it lets Django start.
    return len(key) >= 50 and len(set(key)) >= 5 and not key.startswith("django-insecure")


@cache
def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    lines = [line for line in DOCKERFILE.read_text().splitlines() if not line.lstrip().startswith("#")]
    instructions = []
    for line in "\n".join(lines).replace("\\\n", " ").splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def final_stage() -> list[tuple[str, str]]:
    last_from = max(i for i, (keyword, _) in enumerate(dockerfile()) if keyword == "FROM")
    return dockerfile()[last_from:]


def dockerfile_env() -> dict[str, str]:
    env = {}
    for keyword, rest in final_stage():
        if keyword == "ENV":
            for pair in shlex.split(rest):
                name, _, value = pair.partition("=")
                env[name] = value
    return env


def dockerfile_workdir() -> PurePosixPath:
    workdirs = [rest for keyword, rest in final_stage() if keyword == "WORKDIR"]
    assert workdirs, "the runtime stage sets no WORKDIR"
    return PurePosixPath(workdirs[-1])


def dockerfile_runs() -> list[str]:
    return [rest for keyword, rest in dockerfile() if keyword == "RUN"]


def dockerignore_patterns() -> list[str]:
    return [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]


def is_dockerignored(path: str) -> bool:
    parts = PurePosixPath(path).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(
        fnmatch(prefix, pattern.removeprefix("**/")) or fnmatch(parts[-1], pattern.removeprefix("**/"))
        for pattern in dockerignore_patterns()
        for prefix in prefixes
    )


# --- Checking a command ------------------------------------------------------


def check_gunicorn(args: list[str]) -> GunicornConfig:
    config = GunicornConfig()
    try:
        parsed = config.parser().parse_args(args)
    except SystemExit:
        pytest.fail(f"gunicorn rejects its arguments: {args}")
    for key, value in vars(parsed).items():
        if value is not None and key != "args":
            config.set(key.lower(), value)  # validates types, e.g. --workers is an int
    assert len(parsed.args) == 1, f"gunicorn needs exactly one WSGI app, got {parsed.args}"
    app = import_app(parsed.args[0])
    assert callable(app), f"{parsed.args[0]} is not a WSGI callable"
    return config


def parse_click(command, tokens: list[str], *, stop_at_subcommand: bool) -> tuple[dict, list[str]]:
    """Option values by parameter name and the positional arguments, checked against `command`."""
    options = {opt: param for param in command.params for opt in param.opts + param.secondary_opts}
    arguments = [param for param in command.params if param.param_type_name == "argument"]
    values: dict[str, object] = {}
    positionals: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if not token.startswith("-"):
            if stop_at_subcommand:
                return values, tokens[i:]
            positionals.append(token)
            i += 1
            continue
        name, has_value, value = token.partition("=")
        assert name in options, f"celery {command.name}: no option {name}"
        param = options[name]
        if param.is_flag or param.count:
            assert not has_value, f"celery {command.name}: {name} takes no value"
            values[param.name] = name not in param.secondary_opts
            i += 1
            continue
        if not has_value:
            assert i + 1 < len(tokens), f"celery {command.name}: {name} needs a value"
            value = tokens[i + 1]
            i += 1
        i += 1
        values[param.name] = param.type.convert(value, param, None)  # e.g. --concurrency=two fails
    if arguments:
        values[arguments[0].name] = positionals[0] if positionals else None
    return values, positionals


def check_celery(args: list[str]) -> tuple[str, dict, list[str]]:
    """Returns (subcommand, its options, its positional arguments)."""
    global_options, rest = parse_click(celery_cli, args, stop_at_subcommand=True)
    assert global_options.get("app") == "config", f"celery must run with -A config, got {args}"
    module = importlib.import_module(global_options["app"])
    assert isinstance(getattr(module, "celery_app", None), Celery), "config has no celery_app"
    assert rest, f"celery: no subcommand in {args}"
    subcommand, *sub_args = rest
    assert subcommand in celery_cli.commands, f"celery has no subcommand {subcommand!r}"
    options, positionals = parse_click(celery_cli.commands[subcommand], sub_args, stop_at_subcommand=False)
    return subcommand, options, positionals


def check_manage_py(args: list[str]) -> str:
    name, *rest = args
    commands = get_commands()
    assert name in commands, f"manage.py has no command {name!r}"
    parser = load_command_class(commands[name], name).create_parser("manage.py", name)
    try:
        parser.parse_args(rest)
    except CommandError as error:
        pytest.fail(f"manage.py {name} rejects {rest}: {error}")
    return name


def check_command(args: list[str]):
    """Fails unless `args` runs something that exists, with options it accepts."""
    program = PurePosixPath(args[0]).name
    if program == "gunicorn":
        return check_gunicorn(args[1:])
    if program == "celery":
        return check_celery(args[1:])
    if program.startswith("python") and args[1:2] == ["manage.py"]:
        return check_manage_py(args[2:])
    pytest.fail(f"unexpected command {args}")


# --- docker-compose.yml ------------------------------------------------------


def test_compose_defines_the_services():
    assert set(compose()["services"]) == SERVICES
    assert service("postgres")["image"] == "postgres:17"
    assert service("redis")["image"] == "redis:7"


def test_app_services_share_one_image_built_from_the_dockerfile():
    images = {service(name)["image"] for name in APP_SERVICES}
    assert len(images) == 1
    for name in APP_SERVICES:
        build = service(name)["build"]
        assert (PROJECT / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
        assert service(name)["env_file"] in (".env", [".env"])
    built = {name for name, config in compose()["services"].items() if "build" in config}
    assert built == APP_SERVICES


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_app_services_run_production_settings(name):
    module = service(name)["environment"]["DJANGO_SETTINGS_MODULE"]

    assert module == PRODUCTION_SETTINGS
    assert importlib.util.find_spec(module) is not None


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_restart_policy(name):
    expected = "no" if name in ONE_SHOT else "unless-stopped"
    assert service(name)["restart"] == expected


@pytest.mark.parametrize("name", sorted(LONG_RUNNING))
def test_long_running_services_have_a_healthcheck(name):
    healthcheck = service(name).get("healthcheck")

    assert healthcheck, f"{name} has no healthcheck"
    assert not healthcheck.get("disable")
    assert healthcheck_argv(name)
    for key in ("interval", "timeout", "retries"):
        assert key in healthcheck, f"{name}: healthcheck without {key}"


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_app_service_commands_name_real_things(name):
    check_command(argv(service(name)["command"]))


def test_migrate_runs_migrations_without_prompting():
    args = argv(service("migrate")["command"])

    assert check_command(args) == "migrate"
    assert "--no-input" in args or "--noinput" in args


def test_web_runs_gunicorn_on_the_published_port():
    config = check_command(argv(service("web")["command"]))

    assert isinstance(config, GunicornConfig)
    assert config.workers >= 2
    [bind] = config.bind
    assert bind.startswith("0.0.0.0:"), "gunicorn must listen on all interfaces inside the container"
    published = [resolved(port).rsplit(":", 1)[-1] for port in service("web")["ports"]]
    assert published == [bind.rsplit(":", 1)[-1]]


def test_web_healthcheck_requests_healthz_on_gunicorn():
    args = healthcheck_argv("web")
    assert args[:2] == ["python", "-c"], "slim images have no curl: use python's urllib"
    code = args[2]
    compile(code, "<web healthcheck>", "exec")
    [url] = re.findall(r"https?://[^'\"\s]+", code)
    url = urlsplit(url)
    [bind] = check_command(argv(service("web")["command"])).bind

    assert url.scheme == "http"
    assert str(url.port) == bind.rsplit(":", 1)[-1]
    assert resolve(url.path).url_name == "healthz"
    # Otherwise production's SECURE_SSL_REDIRECT sends the probe to https and it fails.
    exempt = production_setting("SECURE_REDIRECT_EXEMPT")
    assert any(re.search(pattern, url.path.lstrip("/")) for pattern in exempt)
    allowed_hosts = env_example()["ALLOWED_HOSTS"].split(",")
    assert url.hostname in allowed_hosts, f".env.example ALLOWED_HOSTS must include {url.hostname}"
    assert seconds(service("web")["healthcheck"]["timeout"]) > float(re.search(r"timeout=(\d+)", code)[1])


@pytest.mark.parametrize(
    ("name", "subcommand", "node"), [("worker", "worker", "celery"), ("beat", "beat", "celerybeat")]
)
def test_celery_services_and_their_healthchecks(name, subcommand, node):
    ran, options, _ = check_command(argv(service(name)["command"]))
    assert ran == subcommand

    probe, probe_options, positionals = check_command(healthcheck_argv(name))
    assert probe == "inspect"
    assert positionals == ["ping"]
    assert Panel.meta["ping"].type == "inspect"
    # The probe must ask this container's own node, named <node>@<hostname> unless -n says otherwise.
    expected_node = (options.get("hostname") or f"{node}@%h").replace("%h", "$HOSTNAME")
    assert probe_options.get("destination") == [expected_node]
    assert seconds(service(name)["healthcheck"]["timeout"]) > probe_options["timeout"]


def test_beat_answers_ping_and_keeps_its_schedule_on_a_volume():
    _, options, _ = check_command(argv(service("beat")["command"]))

    # Without --enable-remote-control beat does not answer `inspect ping`.
    assert options.get("remote_control") is True
    schedule = PurePosixPath(options["schedule"])
    assert str(schedule.parent) in mounts("beat").values()


def test_worker_gets_time_to_finish_a_running_task_on_stop():
    limit = max(int(env_example()["CELERY_TASK_TIME_LIMIT"]), settings.CELERY_TASK_TIME_LIMIT)

    assert seconds(service("worker")["stop_grace_period"]) > limit


def test_media_volume_is_mounted_at_media_root():
    media_root = env_example()["MEDIA_ROOT"]

    assert mounts("web")["media"] == media_root
    assert mounts("worker")["media"] == media_root


def test_database_and_redis_keep_their_data_in_volumes():
    assert mounts("postgres") == {"postgres-data": "/var/lib/postgresql/data"}
    assert mounts("redis") == {"redis-data": "/data"}


def test_volumes_referenced_are_declared_and_declared_ones_used():
    declared = set(compose()["volumes"])
    used = {volume for name in SERVICES for volume in mounts(name)}

    assert used == declared
    assert {"postgres-data", "redis-data", "media", "beat-state"} <= declared


def test_depends_on_refers_to_existing_services_with_valid_conditions():
    services = compose()["services"]
    for name, config in services.items():
        depends_on = config.get("depends_on", {})
        if isinstance(depends_on, list):
            depends_on = {target: {"condition": "service_started"} for target in depends_on}
        for target, options in depends_on.items():
            assert target in services, f"{name} depends on unknown service {target}"
            condition = options.get("condition", "service_started")
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits for {target} to be healthy"
            elif condition == "service_completed_successfully":
                assert target in ONE_SHOT, f"{name} waits for long-running {target} to exit"
            else:
                assert condition == "service_started", f"{name}: unknown condition {condition}"


def test_start_up_order():
    def conditions(name):
        return {target: options["condition"] for target, options in service(name)["depends_on"].items()}

    assert conditions("migrate") == {"postgres": "service_healthy"}
    for name in ("web", "worker", "beat"):
        assert conditions(name) == {
            "migrate": "service_completed_successfully",
            "redis": "service_healthy",
        }


def test_shell_variables_in_healthchecks_exist_in_the_container():
    for name, config in compose()["services"].items():
        available = set(CONTAINER_VARIABLES) | set(config.get("environment", {}))
        if config.get("env_file"):
            available |= set(env_example())
        for text in strings_in(config.get("healthcheck", {}).get("test", [])):
            _, shell_variables = interpolate(resolved(text), {})
            missing = set(shell_variables) - available
            assert not missing, f"{name} healthcheck reads {missing}, unset in the container"


# --- .env.example ------------------------------------------------------------


def test_every_compose_variable_is_documented():
    used = {name for text in strings_in(compose()) for name in interpolate(text, env_example())[1]}

    assert {"POSTGRES_PASSWORD", "WEB_CONCURRENCY"} <= used
    assert used <= set(env_example()), f"missing from .env.example: {used - set(env_example())}"


def test_every_variable_the_settings_read_is_documented():
    names = {name for _, name in settings_env_reads()}

    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "EMAIL_URL", "ALLOWED_HOSTS"} <= names
    assert names <= set(env_example()), f"missing from .env.example: {names - set(env_example())}"


def test_example_values_parse_as_the_settings_read_them():
    env = environ.Env()
    env.ENVIRON = dict(env_example())
    for caster, name in sorted(settings_env_reads()):
        getattr(env, caster)(name)  # raises on e.g. DEBUG=maybe or a malformed URL


def test_every_example_variable_has_a_comment_line_above_it():
    lines = ENV_EXAMPLE.read_text().splitlines()
    for number, line in enumerate(lines):
        if line.strip() and not line.startswith("#"):
            assert number > 0, f"no comment above {line!r}"
            assert lines[number - 1].startswith("# "), f"no comment above {line!r}"


def test_example_urls_point_at_the_compose_services():
    example = env_example()
    database = environ.Env.db_url_config(example["DATABASE_URL"])
    redis = urlsplit(example["REDIS_URL"])

    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert database["HOST"] == "postgres"
    assert database["HOST"] in compose()["services"]
    assert (database["NAME"], database["USER"], database["PASSWORD"]) == (
        example["POSTGRES_DB"],
        example["POSTGRES_USER"],
        example["POSTGRES_PASSWORD"],
    )
    assert redis.scheme == "redis"
    assert redis.hostname == "redis"
    assert redis.hostname in compose()["services"]


def test_example_secret_key_is_a_placeholder_production_refuses():
    lines = ENV_EXAMPLE.read_text().splitlines()
    [number] = [i for i, line in enumerate(lines) if line.startswith("SECRET_KEY=")]

    assert not is_production_grade_secret_key(env_example()["SECRET_KEY"])
    assert "secrets.token_urlsafe" in lines[number - 1]


# --- Dockerfile and .dockerignore --------------------------------------------


def test_dockerfile_uses_the_project_python_and_pinned_uv():
    python = (PROJECT / ".python-version").read_text().strip()
    bases = [rest.split()[0] for keyword, rest in dockerfile() if keyword == "FROM"]
    uv_version = re.search(r"^UV_VERSION\s*:?=\s*(\S+)", (PROJECT / "Makefile").read_text(), re.M)[1]
    runs = dockerfile_runs()

    assert bases
    assert set(bases) == {f"python:{python}-slim"}
    assert any(re.search(rf"\bpip install uv=={re.escape(uv_version)}\b", run) for run in runs)
    assert any("uv sync --frozen --no-dev" in run for run in runs)
    assert dockerfile_env().get("PATH", "").startswith("/app/.venv/bin:")


def test_dockerfile_runs_as_an_unprivileged_user():
    users = [rest for keyword, rest in final_stage() if keyword == "USER"]

    assert users
    assert users[-1].split(":")[0] not in ("root", "0")


def test_dockerfile_defaults_to_production_settings():
    module = dockerfile_env()["DJANGO_SETTINGS_MODULE"]

    assert module == PRODUCTION_SETTINGS
    assert importlib.util.find_spec(module) is not None


def test_dockerfile_cmd_names_real_things():
    [cmd] = [rest for keyword, rest in final_stage() if keyword == "CMD"]
    entrypoints = [rest for keyword, rest in final_stage() if keyword == "ENTRYPOINT"]
    exposed = {rest.split("/")[0] for keyword, rest in final_stage() if keyword == "EXPOSE"}

    assert not entrypoints
    config = check_command(json.loads(cmd))
    assert {bind.rsplit(":", 1)[-1] for bind in config.bind} == exposed


def test_dockerfile_collects_static_files_with_a_build_only_secret_key():
    [run] = [run for run in dockerfile_runs() if "collectstatic" in run]
    first_command = run.split("&&")[0]
    tokens = shlex.split(first_command)
    assignments = dict(token.split("=", 1) for token in tokens if re.match(r"^[A-Z_]+=", token))
    command = [token for token in tokens if not re.match(r"^[A-Z_]+=", token)]

    assert check_command(command) == "collectstatic"
    assert "--no-input" in command
    assert is_production_grade_secret_key(assignments["SECRET_KEY"])
    assert "SECRET_KEY" not in dockerfile_env(), "the build key must not stay in the image"


def test_dockerfile_lets_the_app_user_write_to_its_volumes():
    workdir = dockerfile_workdir()
    chowned = set()
    for run in dockerfile_runs():
        for command in run.split("&&"):
            tokens = shlex.split(command)
            if tokens and tokens[0] == "chown":
                chowned |= {str(workdir / path) for path in tokens[2:]}
    targets = {target for name in APP_SERVICES for target in mounts(name).values()}

    assert targets
    assert targets <= chowned, f"not writable by the app user: {targets - chowned}"


def test_dockerfile_copies_only_files_that_exist_and_are_in_the_context():
    copied = []
    for keyword, rest in dockerfile():
        if keyword == "COPY" and not rest.startswith("--from"):
            *sources, _ = shlex.split(rest)
            copied += [source for source in sources if not source.startswith("--") and source != "."]

    assert {"pyproject.toml", "uv.lock"} <= set(copied)
    for source in copied:
        assert (PROJECT / source).exists(), f"Dockerfile copies missing {source}"
        assert not is_dockerignored(source), f".dockerignore excludes {source}"


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_image():
    for path in (".env", ".venv", ".tools", "var", ".git", ".pytest_cache", ".ruff_cache", "x/__pycache__"):
        assert is_dockerignored(path), f".dockerignore must exclude {path}"
    for path in ("manage.py", "config/wsgi.py", "config/settings/production.py", "static", "templates"):
        assert not is_dockerignored(path), f".dockerignore must not exclude {path}"
