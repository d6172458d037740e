"""French labels of the categories (translated where they leave the API)."""

from __future__ import annotations

from backend.catalogue.models import Category
from backend.i18n import N_

CATEGORIES: dict[Category, str] = {
    Category.DIABETES: N_("Diabète"),
    Category.NUTRITION: N_("Nutrition"),
    Category.PHYSICAL_ACTIVITY: N_("Activité physique"),
    Category.MENTAL_HEALTH: N_("Santé mentale"),
    Category.CHRONIC_DISEASE: N_("Maladies chroniques"),
    Category.PREGNANCY: N_("Grossesse"),
    Category.APPOINTMENTS: N_("Prise de rendez-vous"),
    Category.TELECONSULTATION: N_("Téléconsultation"),
    Category.MEDICATION: N_("Médicaments"),
    Category.PREVENTION: N_("Prévention"),
}
