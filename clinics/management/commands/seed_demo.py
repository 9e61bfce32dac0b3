from importlib import import_module
from importlib.util import find_spec

from django.apps import apps
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Loads the demo organizations, staff and data. Deterministic and idempotent: "
        "running it again leaves the same data. Never run it on a production database."
    )

    def handle(self, *args, **options) -> None:
        # Each app seeds its own data from its `demo` module, in INSTALLED_APPS
        # order, so later apps can build on earlier ones without this command
        # importing any of them directly.
        for app_config in apps.get_app_configs():
            module_name = f"{app_config.name}.demo"
            if find_spec(module_name) is None:
                continue
            import_module(module_name).seed(stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo data is ready."))
