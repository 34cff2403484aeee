from nicegui.testing import Screen
from selenium.webdriver.common.by import By


def test_sample_opens_on_the_canvas(screen: Screen):
    screen.open("/pipelines/content-enhancement")
    screen.wait_for(lambda: len(screen.selenium.find_elements(By.CSS_SELECTOR, ".vue-flow__node")) == 5)
    screen.should_contain("Quality check")

