from django.db import migrations

POPULATIONS = [
    ("sports", "Sports", "sports"),
    ("orthopedic", "Orthopedic", "orthopedic"),
    ("post-surgical", "Post-surgical", "post-surgical"),
    ("geriatric", "Geriatric", "geriatric"),
    ("pediatric", "Pediatric", "pediatric"),
    ("womens-health", "Women's health", "women's health"),
    ("neurologic", "Neurologic", "neurologic"),
    ("vestibular", "Dizziness and balance", "dizziness and balance"),
    ("chronic-pain", "Chronic pain", "chronic pain"),
    ("workers-comp", "Workers' compensation", "workers' comp"),
]


def add_populations(apps, schema_editor):
    Population = apps.get_model("clinics", "Population")
    for code, name, adjective in POPULATIONS:
        Population.objects.update_or_create(code=code, defaults={"name": name, "adjective": adjective})


class Migration(migrations.Migration):
    dependencies = [("clinics", "0002_payers_populations_offerings")]

    operations = [migrations.RunPython(add_populations, migrations.RunPython.noop)]
