"""The shapes of AI answers: what we ask the model for, validate, and hand to the app.

Pydantic models serve three uses at once: their JSON Schema is the response schema sent to
the model, they validate what comes back, and drf-spectacular documents them in OpenAPI.
Every field is required (no defaults), so the model cannot silently leave one out.
"""

from typing import Annotated

from pydantic import BaseModel, Field, model_validator

from ai_assistant.responses import AIResponse, AIResultSource, seconds_since

Grams = Annotated[float, Field(ge=0, le=10_000, description="Grams.")]
Kcal = Annotated[float, Field(ge=0, le=50_000, description="Kilocalories.")]
MAX_ITEMS = 50
MAX_ALLERGENS = 30


class FoodAnalysisItem(BaseModel):
    name: str = Field(min_length=1, max_length=200, description="One food or drink.")
    grams: Grams = Field(description="Estimated portion weight in grams.")
    calories: Kcal
    protein: Grams
    carbs: Grams
    fat: Grams


class FoodAnalysisTotals(BaseModel):
    calories: Kcal
    protein: Grams
    carbs: Grams
    fat: Grams


class FoodAnalysisBreakdown(BaseModel):
    items: list[FoodAnalysisItem] = Field(max_length=MAX_ITEMS)
    totals: FoodAnalysisTotals = Field(description="The sums over `items`.")

    @model_validator(mode="after")
    def _totals_are_the_sums(self) -> "FoodAnalysisBreakdown":
        # The items are what the model identified; totals it adds up itself can be off, and
        # a client must be able to rely on totals == sum(items).
        self.totals = FoodAnalysisTotals(
            **{
                name: round(sum(getattr(item, name) for item in self.items), 1)
                for name in FoodAnalysisTotals.model_fields
            }
        )
        return self


class FoodAnalysisDietaryInfo(BaseModel):
    vegetarian: bool
    vegan: bool
    gluten_free: bool
    dairy_free: bool
    allergens: list[str] = Field(max_length=MAX_ALLERGENS, description="Common allergens present.")
    notes: str = Field(max_length=1000)


class FoodAnalysis(BaseModel):
    food_name: str = Field(min_length=1, max_length=200, description="Name of the meal.")
    description: str = Field(max_length=2000)
    item_breakdown: FoodAnalysisBreakdown
    health_score: float = Field(ge=0, le=10, description="0 (least healthy) to 10.")
    dietary_info: FoodAnalysisDietaryInfo
    confidence: float = Field(ge=0, le=1, description="How sure the analysis is, 0 to 1.")


class FoodAnalysisResponse(AIResponse[FoodAnalysis]):
    @classmethod
    def of(
        cls, analysis: FoodAnalysis, *, started: float, source: AIResultSource
    ) -> "FoodAnalysisResponse":
        """The analysis as answered now, for a request that began at `started`."""
        return cls(
            data=analysis,
            confidence=analysis.confidence,
            processing_time=seconds_since(started),
            source=source,
        )
