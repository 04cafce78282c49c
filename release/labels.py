"""What the browser shows for a measure, a dimension and a code: English source text, a
message of the catalogues (release/i18n.py). A code without a label here is shown as it is
(years, months, age bands, country pairs); countries are named by Babel's CLDR data in the
page's language. CSV and Parquet downloads keep the codes, as the CLI prints them."""

from __future__ import annotations


def N_(message: str) -> str:
    """Marks a message for extraction; translated where it is shown."""
    return message


MEASURES: dict[str, str] = {
    "victims": N_("Victims"),
    "perpetrators": N_("Perpetrators"),
    "links": N_("Cross-border persons"),
}

DIMENSIONS: dict[str, str] = {
    "year": N_("Year"),
    "month": N_("Month"),
    "country": N_("Reporting country"),
    "citizenship": N_("Citizenship"),
    "sex": N_("Sex"),
    "age_group": N_("Minor or adult"),
    "age_band": N_("Age band"),
    "exploitation": N_("Form of exploitation"),
    "recruitment": N_("Recruitment"),
    "case_category": N_("Case category"),
    "status": N_("Status"),
    "identified_by": N_("Identified by"),
    "country_of_exploitation": N_("Country of exploitation"),
    "means_of_control": N_("Means of control"),
    "means_of_travel": N_("Means of travel"),
    "means_of_communication": N_("Means of communication"),
    "recruited_in": N_("Recruited in"),
    "trafficking_scope": N_("Domestic or cross-border"),
    "route": N_("Route"),
    "perpetrator_structure": N_("Perpetrators' structure"),
    "perpetrator_relation": N_("Perpetrators' relation to the victim"),
    "role": N_("Perpetrator's role"),
    "relation_to_victim": N_("Relation to the victim"),
    "structure": N_("Structure"),
    "pair": N_("Country pair"),
    "linked_to_victim": N_("Linked to a victim's case"),
}

# The builder's fields, as a message naming a field shows them.
FIELDS: dict[str, str] = {
    "measure": N_("Measure"),
    "rows": N_("Rows"),
    "columns": N_("Columns"),
    "country": N_("Country"),
    "year_from": N_("From year"),
    "year_to": N_("To year"),
}

# Codes of the regional lists (transforms/codelists/regional-v1.yaml), by code.
CODES: dict[str, str] = {
    "F": N_("Female"),
    "M": N_("Male"),
    "X": N_("Other or not stated"),
    "minor": N_("Minor"),
    "adult": N_("Adult"),
    # REVIEW: legal category; awaits review by the national focal points.
    "sexual": N_("Sexual exploitation"),
    # REVIEW: legal category; awaits review by the national focal points.
    "labour": N_("Labour exploitation"),
    # REVIEW: legal category; awaits review by the national focal points.
    "begging": N_("Forced begging"),
    # REVIEW: legal category; awaits review by the national focal points.
    "forced_marriage": N_("Forced marriage"),
    # REVIEW: legal category; awaits review by the national focal points.
    "criminal_activity": N_("Forced criminal activity"),
    # REVIEW: legal category; awaits review by the national focal points.
    "illegal_adoption": N_("Illegal adoption"),
    # REVIEW: legal category; awaits review by the national focal points.
    "domestic_servitude": N_("Domestic servitude"),
    # REVIEW: legal category; awaits review by the national focal points.
    "organ_removal": N_("Removal of organs"),
    # REVIEW: legal category; awaits review by the national focal points.
    "presumed": N_("Presumed victim"),
    # REVIEW: legal category; awaits review by the national focal points.
    "identified": N_("Identified victim"),
    # REVIEW: legal category; awaits review by the national focal points.
    "trafficking": N_("Trafficking in human beings"),
    # REVIEW: legal category; awaits review by the national focal points.
    "smuggling": N_("Smuggling of migrants"),
    # REVIEW: legal category; awaits review by the national focal points.
    "suspected": N_("Suspected"),
    # REVIEW: legal category; awaits review by the national focal points.
    "charged": N_("Charged"),
    # REVIEW: legal category; awaits review by the national focal points.
    "convicted": N_("Convicted"),
    # REVIEW: legal category; awaits review by the national focal points.
    "acquitted": N_("Acquitted"),
    "domestic": N_("Domestic"),
    "cross_border": N_("Cross-border"),
    "police": N_("Police"),
    "border_police": N_("Border police"),
    "social_services": N_("Social services"),
    "ngo": N_("Non-governmental organisation"),
    "labour_inspection": N_("Labour inspection"),
    "prosecution": N_("Prosecution"),
    "coordination_body": N_("National coordination body"),
    "international_org": N_("International organisation"),
    "job_offer": N_("Job offer"),
    "intimate_partner": N_("Intimate partner"),
    "family_member": N_("Family member"),
    "acquaintance": N_("Acquaintance"),
    "abduction": N_("Abduction"),
    "marriage_offer": N_("Marriage offer"),
    "education_offer": N_("Education offer"),
    "online_advertisement": N_("Online advertisement"),
    "physical_violence": N_("Physical violence"),
    "threats": N_("Threats"),
    "emotional_dependence": N_("Emotional dependence"),
    "debt_bondage": N_("Debt bondage"),
    "documents_withheld": N_("Documents withheld"),
    "earnings_withheld": N_("Earnings withheld"),
    "restricted_movement": N_("Restricted movement"),
    "substances": N_("Substances"),
    "car": N_("Car"),
    "bus": N_("Bus"),
    "train": N_("Train"),
    "air": N_("Air"),
    "boat": N_("Boat"),
    "on_foot": N_("On foot"),
    "none": N_("None"),
    "in_person": N_("In person"),
    "phone": N_("Phone"),
    "social_network": N_("Social network"),
    "messaging_app": N_("Messaging app"),
    "recruiter": N_("Recruiter"),
    "transporter": N_("Transporter"),
    "exploiter": N_("Exploiter"),
    "organiser": N_("Organiser"),
    "individual": N_("Individual"),
    "family": N_("Family"),
    "organised_group": N_("Organised group"),
    "stranger": N_("Stranger"),
    "employer": N_("Employer"),
    "other": N_("Other"),
    "undetermined": N_("Undetermined"),
    "not_recorded": N_("Not recorded"),
    "not_collected": N_("Not collected then"),
    "no_perpetrator_linked": N_("No perpetrator linked"),
    "total": N_("Total"),
    "unknown": N_("Unknown"),
    "linked": N_("Linked"),
    "not_linked": N_("Not linked"),
    "ALL": N_("The region"),  # trends: every country together
}
