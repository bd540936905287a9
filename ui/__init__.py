"""Streamlit pieces shared by the pages: model picker, error display, 'what ran' caption."""
