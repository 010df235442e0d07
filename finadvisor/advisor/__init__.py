"""The advisor: spending history -> 2-3 grounded Vietnamese recommendations of catalog services, as valid JSON."""

from finadvisor.advisor.contract import AdvisorResponse, Recommendation
from finadvisor.advisor.service import AdviceResult, Advisor

__all__ = ["AdviceResult", "Advisor", "AdvisorResponse", "Recommendation"]
