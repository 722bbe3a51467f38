"""The meals the rules choose from when no model answers: common, simple dishes with typical
nutrition per serving (rounded from USDA FoodData Central values for their ingredients)."""

from dataclasses import dataclass
from typing import Literal

Diet = Literal["vegan", "vegetarian", "pescatarian", "omnivore"]


@dataclass(frozen=True)
class Meal:
    name: str
    meal_types: tuple[str, ...]
    serving: str
    calories: int
    protein: float
    carbs: float
    fat: float
    diet: Diet
    allergens: frozenset[str] = frozenset()


def _meal(name, meal_types, serving, kcal, protein, carbs, fat, diet, *allergens) -> Meal:
    return Meal(name, meal_types, serving, kcal, protein, carbs, fat, diet, frozenset(allergens))


B, L, D, S = "breakfast", "lunch", "dinner", "snack"

MEALS: tuple[Meal, ...] = (
    _meal(
        "Greek yogurt with berries and oats",
        (B, S),
        "250 g",
        320,
        22,
        42,
        7,
        "vegetarian",
        "milk",
        "gluten",
    ),
    _meal(
        "Scrambled eggs on wholegrain toast",
        (B,),
        "3 eggs, 1 slice",
        390,
        24,
        28,
        20,
        "vegetarian",
        "egg",
        "gluten",
    ),
    _meal(
        "Oatmeal with banana and peanut butter",
        (B,),
        "1 bowl",
        420,
        14,
        62,
        14,
        "vegan",
        "peanut",
        "gluten",
    ),
    _meal(
        "Tofu scramble with spinach on rye toast",
        (B,),
        "1 plate",
        350,
        22,
        30,
        15,
        "vegan",
        "soy",
        "gluten",
    ),
    _meal("Cottage cheese with pineapple", (B, S), "200 g", 220, 24, 22, 4, "vegetarian", "milk"),
    _meal("Banana protein smoothie", (B, S), "400 ml", 330, 32, 40, 5, "vegetarian", "milk"),
    _meal("Vegetable omelette", (B, L), "3 eggs", 300, 21, 6, 21, "vegetarian", "egg"),
    _meal(
        "Grilled chicken with quinoa and roasted vegetables",
        (L, D),
        "1 plate (400 g)",
        520,
        45,
        50,
        14,
        "omnivore",
    ),
    _meal(
        "Salmon with brown rice and broccoli",
        (L, D),
        "1 plate (400 g)",
        600,
        40,
        55,
        22,
        "pescatarian",
        "fish",
    ),
    _meal(
        "Lentil and vegetable curry with rice", (L, D), "1 bowl (450 g)", 550, 22, 90, 10, "vegan"
    ),
    _meal(
        "Turkey and avocado wholegrain wrap", (L,), "1 wrap", 480, 32, 42, 19, "omnivore", "gluten"
    ),
    _meal(
        "Chickpea, feta and quinoa salad",
        (L, D),
        "1 bowl (350 g)",
        450,
        18,
        50,
        19,
        "vegetarian",
        "milk",
    ),
    _meal(
        "Lean beef stir-fry with noodles",
        (L, D),
        "1 plate (400 g)",
        580,
        38,
        60,
        18,
        "omnivore",
        "soy",
        "gluten",
    ),
    _meal(
        "Tuna and white bean salad",
        (L, D),
        "1 bowl (300 g)",
        420,
        35,
        25,
        18,
        "pescatarian",
        "fish",
    ),
    _meal(
        "Tofu and vegetable stir-fry with rice",
        (L, D),
        "1 plate (400 g)",
        500,
        24,
        65,
        15,
        "vegan",
        "soy",
        "gluten",
    ),
    _meal(
        "Chicken and vegetable soup with bread",
        (L, D),
        "1 bowl, 1 slice",
        350,
        28,
        35,
        9,
        "omnivore",
        "gluten",
    ),
    _meal(
        "Baked cod with potatoes and green beans",
        (L, D),
        "1 plate (450 g)",
        450,
        35,
        50,
        10,
        "pescatarian",
        "fish",
    ),
    _meal("Black bean burrito bowl", (L, D), "1 bowl (450 g)", 560, 22, 85, 14, "vegan"),
    _meal(
        "Wholewheat pasta with turkey bolognese",
        (D,),
        "1 plate (400 g)",
        620,
        40,
        75,
        15,
        "omnivore",
        "gluten",
    ),
    _meal(
        "Apple with almond butter", (S,), "1 apple, 1 tbsp", 200, 5, 25, 10, "vegan", "tree_nuts"
    ),
    _meal(
        "Hummus with carrot sticks",
        (S,),
        "60 g hummus, 2 carrots",
        180,
        6,
        18,
        9,
        "vegan",
        "sesame",
    ),
    _meal("Boiled eggs", (S, B), "2 eggs", 155, 13, 1, 11, "vegetarian", "egg"),
    _meal("Whey protein shake with water", (S,), "1 scoop", 120, 24, 3, 2, "vegetarian", "milk"),
    _meal("Steamed edamame", (S,), "150 g", 190, 17, 14, 8, "vegan", "soy"),
    _meal("Cucumber and cherry tomatoes", (S,), "1 bowl (200 g)", 45, 2, 9, 0, "vegan"),
    _meal("Herbal tea or sparkling water with lemon", (S,), "1 glass", 5, 0, 1, 0, "vegan"),
)

_DIETS_ALLOWED: dict[str, set[str]] = {
    "vegan": {"vegan"},
    "vegetarian": {"vegan", "vegetarian"},
    "pescatarian": {"vegan", "vegetarian", "pescatarian"},
}
_FREE_OF: dict[str, set[str]] = {
    "gluten_free": {"gluten"},
    "dairy_free": {"milk"},
    "nut_free": {"peanut", "tree_nuts"},
}
# What people write under allergies, mapped to the allergens above.
_ALLERGY_WORDS: dict[str, set[str]] = {
    "peanut": {"peanut"},
    "peanuts": {"peanut"},
    "nut": {"peanut", "tree_nuts"},
    "nuts": {"peanut", "tree_nuts"},
    "tree nut": {"tree_nuts"},
    "tree nuts": {"tree_nuts"},
    "almond": {"tree_nuts"},
    "almonds": {"tree_nuts"},
    "milk": {"milk"},
    "dairy": {"milk"},
    "lactose": {"milk"},
    "egg": {"egg"},
    "eggs": {"egg"},
    "gluten": {"gluten"},
    "wheat": {"gluten"},
    "soy": {"soy"},
    "soya": {"soy"},
    "fish": {"fish"},
    "sesame": {"sesame"},
}


def allowed(meal: Meal, *, restrictions: list[str], allergies: list[str]) -> bool:
    """Whether `meal` respects every restriction and allergy. An allergy we do not know is
    matched against the meal's name, so 'kiwi' still rules out a kiwi dish."""
    for restriction in restrictions:
        if restriction in _DIETS_ALLOWED and meal.diet not in _DIETS_ALLOWED[restriction]:
            return False
        if meal.allergens & _FREE_OF.get(restriction, set()):
            return False
    for allergy in allergies:
        word = allergy.strip().casefold()
        known = _ALLERGY_WORDS.get(word)
        if known is not None and meal.allergens & known:
            return False
        if known is None and word and word in meal.name.casefold():
            return False
    return True
