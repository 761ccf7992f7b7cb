from fancampaign import create_app

app = create_app()
