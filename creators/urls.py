app_name = "creators"
urlpatterns: list = []
