"""Consolidates independent analyses of one meal (the photo pipeline asks twice) into one.

Items are matched by name; the numbers of matched items are averaged; an item only some
analyses saw is kept as they saw it. Confidence is the analyses' mean confidence scaled by
how much they agree, so two answers that disagree yield a less confident result:

    agreement = (share of item names every analysis found)
              x (mean over those shared items of min(calories) / max(calories))
"""

import re
from collections.abc import Sequence
from statistics import fmean

from pydantic import ValidationError

from ai_assistant.recognition.schemas import (
    MAX_ALLERGENS,
    MAX_ITEMS,
    FoodAnalysis,
    FoodAnalysisBreakdown,
    FoodAnalysisDietaryInfo,
    FoodAnalysisItem,
    FoodAnalysisTotals,
)

_NUMBERS = ("grams", "calories", "protein", "carbs", "fat")
_NOT_WORD = re.compile(r"[\W_]+")


def consolidate_analyses(analyses: Sequence[FoodAnalysis]) -> FoodAnalysis:
    if not analyses:
        raise ValueError("Nothing to consolidate.")
    if len(analyses) == 1:
        return analyses[0].model_copy(deep=True)

    # The most confident analysis supplies the words; ties go to the earlier one.
    lead = max(analyses, key=lambda analysis: analysis.confidence)
    try:
        return _merge(analyses, lead)
    except ValidationError:
        # Readings that share nothing can add up to more than one meal may hold (say "bag of
        # rice" and "rice sack"): then the most confident one stands alone, trusted less.
        return lead.model_copy(update={"confidence": round(lead.confidence / 2, 3)}, deep=True)


def _merge(analyses: Sequence[FoodAnalysis], lead: FoodAnalysis) -> FoodAnalysis:
    per_analysis = [_items_by_key(analysis) for analysis in analyses]
    keys = list(dict.fromkeys(key for items in per_analysis for key in items))
    merged = [_mean_item([items[key] for items in per_analysis if key in items]) for key in keys]
    shared = [key for key in keys if all(key in items for items in per_analysis)]
    return FoodAnalysis(
        food_name=lead.food_name,
        description=lead.description,
        item_breakdown=FoodAnalysisBreakdown(
            items=merged[:MAX_ITEMS],
            totals=FoodAnalysisTotals(calories=0, protein=0, carbs=0, fat=0),  # recomputed
        ),
        health_score=round(fmean(analysis.health_score for analysis in analyses), 1),
        dietary_info=_merged_dietary_info([analysis.dietary_info for analysis in analyses], lead),
        confidence=round(
            fmean(analysis.confidence for analysis in analyses)
            * _agreement(keys, shared, per_analysis),
            3,
        ),
    )


def item_key(name: str) -> str:
    """Case, punctuation, spacing and a plural -s do not make two items different."""
    words = _NOT_WORD.sub(" ", name.casefold()).split()
    return " ".join(word[:-1] if len(word) > 3 and word.endswith("s") else word for word in words)


def _items_by_key(analysis: FoodAnalysis) -> dict[str, FoodAnalysisItem]:
    """One item per name: an analysis that lists "rice" twice means the sum of both."""
    items: dict[str, FoodAnalysisItem] = {}
    for item in analysis.item_breakdown.items:
        key = item_key(item.name)
        if key in items:
            first = items[key]
            item = first.model_copy(
                update={name: getattr(first, name) + getattr(item, name) for name in _NUMBERS}
            )
        items[key] = item
    return items


def _mean_item(found: list[FoodAnalysisItem]) -> FoodAnalysisItem:
    return FoodAnalysisItem(
        name=found[0].name,
        **{name: round(fmean(getattr(item, name) for item in found), 1) for name in _NUMBERS},
    )


def _agreement(
    keys: list[str], shared: list[str], per_analysis: list[dict[str, FoodAnalysisItem]]
) -> float:
    if not keys:
        return 1.0  # all agree there is nothing to eat
    if not shared:
        return 0.0
    closeness = fmean(_ratio([items[key].calories for items in per_analysis]) for key in shared)
    return len(shared) / len(keys) * closeness


def _ratio(values: list[float]) -> float:
    largest = max(values)
    return min(values) / largest if largest > 0 else 1.0


def _merged_dietary_info(
    infos: list[FoodAnalysisDietaryInfo], lead: FoodAnalysis
) -> FoodAnalysisDietaryInfo:
    # A meal is vegan (or free of gluten...) only if every analysis says so, and an allergen
    # any analysis saw is reported: for someone with an allergy, a false "safe" is the costly
    # mistake.
    allergens: dict[str, str] = {}
    for info in infos:
        for allergen in filter(None, map(str.strip, info.allergens)):
            allergens.setdefault(allergen.casefold(), allergen)
    return FoodAnalysisDietaryInfo(
        vegetarian=all(info.vegetarian for info in infos),
        vegan=all(info.vegan for info in infos),
        gluten_free=all(info.gluten_free for info in infos),
        dairy_free=all(info.dairy_free for info in infos),
        allergens=list(allergens.values())[:MAX_ALLERGENS],
        notes=lead.dietary_info.notes,
    )
