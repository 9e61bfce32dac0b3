"""NUCC provider-taxonomy codes of the providers who commonly refer to physical therapy.

Codes and names from the NUCC Health Care Provider Taxonomy code set, v15.0
(http://nucc.org/provider-taxonomy). A code missing here is still stored; it
is shown as the bare code.
"""

FHIR_SYSTEM = "http://nucc.org/provider-taxonomy"
CHIROPRACTOR = "111N00000X"

# code: (classification, specialization)
REFERRER_TAXONOMY = {
    "207X00000X": ("Orthopaedic Surgery", ""),
    "207XX0005X": ("Orthopaedic Surgery", "Sports Medicine"),
    "207XS0114X": ("Orthopaedic Surgery", "Adult Reconstructive Orthopaedic Surgery"),
    "207XS0106X": ("Orthopaedic Surgery", "Hand Surgery"),
    "207XS0117X": ("Orthopaedic Surgery", "Orthopaedic Surgery of the Spine"),
    "207XX0004X": ("Orthopaedic Surgery", "Foot and Ankle Surgery"),
    "207QS0010X": ("Family Medicine", "Sports Medicine"),
    "207RS0010X": ("Internal Medicine", "Sports Medicine"),
    "2081S0010X": ("Physical Medicine & Rehabilitation", "Sports Medicine"),
    "207Q00000X": ("Family Medicine", ""),
    "207QG0300X": ("Family Medicine", "Geriatric Medicine"),
    "207R00000X": ("Internal Medicine", ""),
    "208D00000X": ("General Practice", ""),
    "208100000X": ("Physical Medicine & Rehabilitation", ""),
    "2081P2900X": ("Physical Medicine & Rehabilitation", "Pain Medicine"),
    "2084N0400X": ("Psychiatry & Neurology", "Neurology"),
    "207T00000X": ("Neurological Surgery", ""),
    "207RR0500X": ("Internal Medicine", "Rheumatology"),
    "213E00000X": ("Podiatrist", ""),
    "111N00000X": ("Chiropractor", ""),
    "207V00000X": ("Obstetrics & Gynecology", ""),
    "207VG0400X": ("Obstetrics & Gynecology", "Gynecology"),
    "208VP0000X": ("Pain Medicine", ""),
    "208VP0014X": ("Pain Medicine", "Interventional Pain Medicine"),
    "363L00000X": ("Nurse Practitioner", ""),
    "363LF0000X": ("Nurse Practitioner", "Family"),
    "363LA2200X": ("Nurse Practitioner", "Adult Health"),
    "363A00000X": ("Physician Assistant", ""),
    "363AS0400X": ("Physician Assistant", "Surgical"),
    "363AM0700X": ("Physician Assistant", "Medical"),
    "208000000X": ("Pediatrics", ""),
    "207P00000X": ("Emergency Medicine", ""),
}


def taxonomy_label(code: str) -> str:
    """“Orthopaedic Surgery – Sports Medicine” for 207XX0005X; the code itself when unknown."""
    if not code:
        return ""
    classification, specialization = REFERRER_TAXONOMY.get(code, (code, ""))
    return f"{classification} – {specialization}" if specialization else classification


SPECIALTY_CHOICES = sorted(
    ((code, taxonomy_label(code)) for code in REFERRER_TAXONOMY), key=lambda choice: choice[1]
)
