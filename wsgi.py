"""What gunicorn serves (`wsgi:application`): the whole site, built once per worker."""

from portal import create_app

application = create_app()
