import pytest

from ai_assistant.recognition.consolidation import consolidate_analyses, item_key
from tests.ai_assistant.factories import analysis, food_item


def names(result):
    return [item.name for item in result.item_breakdown.items]


def test_consolidate_keeps_answer_and_mean_confidence_when_analyses_agree():
    result = consolidate_analyses([analysis(confidence=0.9), analysis(confidence=0.7)])

    assert names(result) == ["Boiled egg", "Toast"]
    assert result.item_breakdown.items == analysis().item_breakdown.items
    assert result.confidence == 0.8


def test_consolidate_averages_numbers_of_items_matched_by_name():
    first = analysis([food_item("Scrambled eggs", 100, 150, 10, 2, 11)])
    second = analysis([food_item("scrambled  EGG", 140, 210, 14, 4, 15)])

    [item] = consolidate_analyses([first, second]).item_breakdown.items

    assert item.name == "Scrambled eggs"
    assert (item.grams, item.calories, item.protein, item.carbs, item.fat) == (
        120,
        180,
        12,
        3,
        13,
    )


def test_consolidate_totals_are_sums_of_consolidated_items():
    first = analysis([food_item("Rice", 200, 260, 5, 56, 0.6), food_item("Chicken", 150, 248)])
    second = analysis([food_item("rice", 180, 234, 4.3, 50, 0.5)])

    result = consolidate_analyses([first, second])

    items = result.item_breakdown.items
    totals = result.item_breakdown.totals
    assert totals.calories == round(sum(item.calories for item in items), 1) == 495
    assert totals.protein == round(sum(item.protein for item in items), 1)


def test_consolidate_keeps_item_only_one_analysis_saw_and_lowers_confidence():
    first = analysis([food_item("Rice", 200, 260), food_item("Chicken", 150, 248)], confidence=0.8)
    second = analysis([food_item("Rice", 200, 260)], confidence=0.8)

    result = consolidate_analyses([first, second])

    assert names(result) == ["Rice", "Chicken"]
    chicken = result.item_breakdown.items[1]
    assert (chicken.grams, chicken.calories) == (150, 248)
    # One of two names shared, with identical numbers: half the agreement.
    assert result.confidence == 0.4


def test_consolidate_lowers_confidence_when_numbers_disagree():
    close = consolidate_analyses(
        [analysis([food_item("Pasta", calories=400)]), analysis([food_item("Pasta", calories=360)])]
    )
    far = consolidate_analyses(
        [analysis([food_item("Pasta", calories=400)]), analysis([food_item("Pasta", calories=200)])]
    )

    assert close.confidence == pytest.approx(0.9 * 360 / 400, abs=0.001)
    assert far.confidence == pytest.approx(0.9 * 0.5, abs=0.001)
    assert far.confidence < close.confidence < 0.9


def test_consolidate_confidence_zero_when_no_item_in_common():
    result = consolidate_analyses(
        [analysis([food_item("Salad")]), analysis([food_item("Burger", calories=600)])]
    )

    assert names(result) == ["Salad", "Burger"]
    assert result.confidence == 0


def test_consolidate_agrees_when_neither_analysis_found_food():
    result = consolidate_analyses(
        [analysis([], confidence=0.1), analysis([], confidence=0.3, food_name="Nothing")]
    )

    assert result.item_breakdown.items == []
    assert result.item_breakdown.totals.calories == 0
    assert result.confidence == 0.2
    assert result.food_name == "Nothing"  # words from the more confident analysis


def test_consolidate_sums_duplicate_items_within_one_analysis():
    first = analysis([food_item("Toast", 30, 80), food_item("toast", 30, 80)])
    second = analysis([food_item("Toast", 60, 160)])

    result = consolidate_analyses([first, second])

    [toast] = result.item_breakdown.items
    assert (toast.grams, toast.calories) == (60, 160)
    assert result.confidence == 0.9


def test_consolidate_dietary_info_is_cautious():
    first = analysis(
        dietary_info={
            "vegetarian": True,
            "vegan": True,
            "gluten_free": True,
            "dairy_free": True,
            "allergens": ["soy", " "],
            "notes": "Plant based.",
        },
        confidence=0.6,
    )
    second = analysis(
        dietary_info={
            "vegetarian": True,
            "vegan": False,
            "gluten_free": True,
            "dairy_free": False,
            "allergens": ["Soy", "milk"],
            "notes": "Contains butter.",
        },
        confidence=0.7,
    )

    info = consolidate_analyses([first, second]).dietary_info

    assert (info.vegetarian, info.vegan, info.gluten_free, info.dairy_free) == (
        True,
        False,
        True,
        False,
    )
    assert info.allergens == ["soy", "milk"]
    assert info.notes == "Contains butter."


def test_consolidate_averages_health_score_and_takes_words_from_most_confident():
    first = analysis(health_score=6, food_name="Breakfast", confidence=0.5)
    second = analysis(health_score=9, food_name="Eggs and toast", confidence=0.9)

    result = consolidate_analyses([first, second])

    assert result.health_score == 7.5
    assert result.food_name == "Eggs and toast"


def test_consolidate_single_analysis_returns_copy():
    only = analysis()

    result = consolidate_analyses([only])

    assert result == only
    assert result is not only


def test_consolidate_rejects_empty_input():
    with pytest.raises(ValueError):
        consolidate_analyses([])


@pytest.mark.parametrize(
    ("left", "right"),
    [("Eggs", "egg"), ("French-fries", "french fries"), ("  Brown   RICE ", "brown rice")],
)
def test_item_key_matches_variants_of_one_name(left, right):
    assert item_key(left) == item_key(right)


def test_item_key_keeps_different_foods_apart():
    assert item_key("rice") != item_key("rice cake")


def test_consolidate_falls_back_to_most_confident_when_union_exceeds_one_meal():
    bag = food_item("bag of rice", grams=10_000, calories=36_000, carbs=8_000, protein=700, fat=60)
    sack = food_item("rice sack", grams=10_000, calories=36_000, carbs=8_000, protein=700, fat=60)
    first = analysis([bag], confidence=0.8)
    second = analysis([sack], confidence=0.6)

    result = consolidate_analyses([first, second])

    assert names(result) == ["bag of rice"]
    assert result.item_breakdown.totals.calories == 36_000
    assert result.confidence == 0.4
