"""LLM calls for the llm_call and vario tiers and the LLM parts of classify and review:
one client (`client`), a dated price table (`pricing`) and fail-closed budgets (`budget`)."""
