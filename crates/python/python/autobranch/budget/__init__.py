"""Budget management components."""

from autobranch.budget.manager import Budget, BudgetExceededError, BudgetManager

__all__ = ["Budget", "BudgetManager", "BudgetExceededError"]
