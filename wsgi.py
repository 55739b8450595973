from portal.application import create_application

application = create_application()
